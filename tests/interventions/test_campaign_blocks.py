"""`template.blocks` in campaign files: what a file may ask for, and every mistake with its file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from reengage.defs.interventions.blocks import BLOCK_KINDS, Block
from reengage.defs.interventions.campaigns import CampaignError, load_campaign

# Line numbers below refer to this layout; keep it stable.
WITH_BLOCKS = """\
id: cart
description: The cart.
trigger:
  flag: cart_abandoned
channel: email
template:
  subject: "{{ cart_items | length }} items"
  body: |
    {% for item in cart_items %}<p>{{ item.name }}</p>{% endfor %}
    {% if progress %}{{ progress.order_count }}{% endif %}{{ social_proof | length }}
  blocks:
    cart_items: {limit: 3, when_empty: skip}
    progress: {}
    social_proof: {when_empty: generic}
holdout_share: 0.1
priority: 10
cooldown_days: 7
"""


def write(folder: Path, text: str) -> Path:
    path = folder / "cart.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_blocks_keep_the_files_order_with_defaults_for_what_it_leaves_out(tmp_path: Path) -> None:
    campaign = load_campaign(write(tmp_path, WITH_BLOCKS))
    assert campaign.template.blocks == (
        Block("cart_items", 3, "skip"),
        Block("progress", BLOCK_KINDS["progress"].default_limit, "generic"),
        Block("social_proof", BLOCK_KINDS["social_proof"].default_limit, "generic"),
    )


INVALID = [
    # (old text, new text, expected line, words the reason must contain)
    (
        "cart_items: {limit: 3,",
        "cart_items: {limit: 11,",
        12,
        "template.blocks.cart_items.limit: 11 is greater than the maximum of 10",
    ),
    ("cart_items: {limit: 3,", "cart_items: {limit: 0,", 12, "template.blocks.cart_items.limit"),
    (
        "when_empty: skip}",
        "when_empty: drop}",
        12,
        "template.blocks.cart_items.when_empty: 'drop' is not one of",
    ),
    ("    progress: {}\n", "    progress: {limit: 2}\n", 13, "template.blocks.progress.limit: unknown field"),
    ("    progress: {}\n", "    basket: {}\n", 13, "template.blocks.basket: unknown field"),
    # a block the template uses but the file does not name
    ("    progress: {}\n", "", 10, "unknown variable(s) 'progress'"),
]


@pytest.mark.parametrize(("old", "new", "line", "words"), INVALID)
def test_a_bad_block_names_the_file_the_line_and_the_key(
    tmp_path: Path, old: str, new: str, line: int, words: str
) -> None:
    assert old in WITH_BLOCKS
    path = write(tmp_path, WITH_BLOCKS.replace(old, new, 1))
    with pytest.raises(CampaignError) as caught:
        load_campaign(path)
    assert caught.value.file == path
    assert (caught.value.line, words in caught.value.reason) == (line, True), str(caught.value)


def test_a_data_key_named_like_a_block_is_refused(tmp_path: Path) -> None:
    text = WITH_BLOCKS.replace("  blocks:\n", "  constants: {cart_items: none}\n  blocks:\n")
    with pytest.raises(
        CampaignError, match=r"cart\.yaml:11: template\.constants\.cart_items: .* name of a block"
    ):
        load_campaign(write(tmp_path, text))


def test_a_sendgrid_template_names_blocks_for_its_dynamic_template_data(tmp_path: Path) -> None:
    text = WITH_BLOCKS.replace(
        '  subject: "{{ cart_items | length }} items"\n  body: |\n'
        "    {% for item in cart_items %}<p>{{ item.name }}</p>{% endfor %}\n"
        "    {% if progress %}{{ progress.order_count }}{% endif %}{{ social_proof | length }}\n",
        "  sendgrid_template_id: d-0123456789abcdef0123456789abcdef\n",
    )
    campaign = load_campaign(write(tmp_path, text))
    assert campaign.template.kind == "sendgrid"
    assert [b.name for b in campaign.template.blocks] == ["cart_items", "progress", "social_proof"]


GENERIC_AND_PERSONAL = """\
variants:
  - name: generic
    weight: 1
    blocks: false
    subject: Your cart
    body: <p>Your cart is waiting.</p>
  - {name: personal, weight: 1}
"""


def test_a_variant_may_leave_the_blocks_out_and_keeps_the_campaigns_empty_rules(tmp_path: Path) -> None:
    text = WITH_BLOCKS.replace("holdout_share:", GENERIC_AND_PERSONAL + "holdout_share:")
    campaign = load_campaign(write(tmp_path, text))
    generic, personal = campaign.variants
    assert (generic.shows_blocks, personal.shows_blocks) == (False, True)
    assert campaign.blocks_for(generic) == ()
    assert campaign.blocks_for(personal) == campaign.template.blocks
    assert campaign.template.blocks[0].when_empty == "skip"  # the rule stays the campaign's


def test_a_variant_without_blocks_cannot_render_a_text_that_shows_them(tmp_path: Path) -> None:
    # The shared subject counts the cart: the generic variant would show an empty cart, not no cart.
    text = WITH_BLOCKS.replace(
        "holdout_share:",
        GENERIC_AND_PERSONAL.replace("    subject: Your cart\n", "") + "holdout_share:",
    )
    with pytest.raises(CampaignError) as caught:
        load_campaign(write(tmp_path, text))
    assert caught.value.line == 7  # the shared subject, which reads cart_items
    assert "variants[0].blocks: variant 'generic' leaves the blocks out" in caught.value.reason
    assert "template.subject" in caught.value.reason and "'cart_items'" in caught.value.reason


def test_leaving_out_blocks_the_template_does_not_show_is_refused(tmp_path: Path) -> None:
    text = (
        WITH_BLOCKS.replace("  blocks:\n", "  constants: {}\n")
        .replace("    cart_items: {limit: 3, when_empty: skip}\n    progress: {}\n", "")
        .replace("    social_proof: {when_empty: generic}\n", "")
        .replace("{{ cart_items | length }} items", "Hello")
        .replace(
            "    {% for item in cart_items %}<p>{{ item.name }}</p>{% endfor %}\n"
            "    {% if progress %}{{ progress.order_count }}{% endif %}{{ social_proof | length }}\n",
            "    <p>Hi</p>\n",
        )
    )
    text = text.replace(
        "holdout_share:", "variants:\n  - {name: generic, weight: 1, blocks: false}\nholdout_share:"
    )
    with pytest.raises(
        CampaignError, match=r"cart\.yaml:12: variants\[0\]\.blocks: the template shows no blocks"
    ):
        load_campaign(write(tmp_path, text))


def test_blocks_must_be_true_or_false(tmp_path: Path) -> None:
    text = WITH_BLOCKS.replace(
        "holdout_share:", "variants:\n  - {name: generic, weight: 1, blocks: no_cart}\nholdout_share:"
    )
    with pytest.raises(
        CampaignError, match=r"cart\.yaml:16: variants\[0\]\.blocks: 'no_cart' is not of type 'boolean'"
    ):
        load_campaign(write(tmp_path, text))
