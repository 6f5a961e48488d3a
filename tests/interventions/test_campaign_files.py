"""Campaign files: every mistake is reported with its file, line and reason before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from reengage import settings
from reengage.defs.interventions.campaigns import CampaignError, load_campaign, load_campaigns, main

# Line numbers below refer to this layout; keep it stable.
VALID = """\
id: demo
description: A demo campaign.
trigger:
  flag: cart_abandoned
audience:
  countries: [US, GB]
channel: email
template:
  subject: "Hi {{ first_name }}"
  body: |
    <p>Hello {{ first_name }}</p>
    <p>See {{ favourite_category }}</p>
variants:
  - name: control
    weight: 1
  - name: treatment
    weight: 1
holdout_share: 0.1
priority: 10
cooldown_days: 7
"""


def write(folder: Path, text: str, name: str = "demo.yaml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_reference_file_is_valid(tmp_path: Path) -> None:
    campaign = load_campaign(write(tmp_path, VALID))
    assert campaign.id == "demo"
    assert [v.name for v in campaign.variants] == ["control", "treatment"]
    assert campaign.control.name == "control"  # the first variant is control unless one says so
    assert campaign.template.kind == "jinja"
    assert campaign.audience.countries == ("US", "GB")


T = "cooldown_days: 7\n"
INVALID = [
    # (old text, new text, expected line, words the reason must contain)
    ("  flag: cart_abandoned\n", "  flag: cart_abandoned\n   bad: [\n", 5, "not valid YAML"),
    ('  subject: "Hi {{ first_name }}"\n', '  subject: "Hi {{ first_name }}\n', 9, "not valid YAML"),
    ("holdout_share: 0.1\n", "holdout_shar: 0.1\n", 18, "unknown field"),
    ("priority: 10\n", "priority: high\n", 19, "priority"),
    ("priority: 10\n", "", 1, "'priority' is a required property"),
    ("  flag: cart_abandoned\n", "  flag: cart_abandonned\n", 4, "trigger.flag"),
    ("  flag: cart_abandoned\n", "  flags: cart_abandoned\n", 4, "unknown field"),
    (
        "  - name: treatment\n    weight: 1\n",
        "  - name: treatment\n    weight: 0\n",
        17,
        "variants[1].weight",
    ),
    ("  - name: treatment\n    weight: 1\n", "  - name: treatment\n    weight: -2\n", 17, "weight"),
    ("holdout_share: 0.1\n", "holdout_share: 1.0\n", 18, "holdout_share"),
    ("holdout_share: 0.1\n", "holdout_share: -0.1\n", 18, "holdout_share"),
    # An html body is escaped for markup: a text must be plain (template.format: text).
    ("channel: email\n", "channel: sms\n", 7, "channel 'sms' sends text bodies: set template.format: text"),
    # Channels: an unknown one names the available ones; a list of preferences is checked item by item.
    ("channel: email\n", "channel: fax\n", 7, "'fax' is not a channel (available: email, sms)"),
    ("channel: email\n", "channels: [sms, email]\n", 7, "channels[0]: channel 'sms' sends text bodies"),
    ("channel: email\n", "channels:\n  - email\n  - fax\n", 9, "channels[1]: 'fax' is not a channel"),
    ("channel: email\n", "channels: [email, email]\n", 7, "channels"),
    ("channel: email\n", "channel: email\nchannels: [email]\n", 8, "not both"),
    ("channel: email\n", "", 1, "needs channel"),
    # A segment limit limits texts: on an email-only campaign it is a mistake, and it stays within 1-10.
    ("  body: |\n", "  max_segments: 2\n  body: |\n", 10, "template.max_segments: limits texts"),
    ("  body: |\n", "  max_segments: 11\n  body: |\n", 10, "max_segments"),
    # YAML 1.1 reads NO (Norway) as false: the schema catches it at the right line.
    ("  countries: [US, GB]\n", "  countries:\n    - US\n    - NO\n", 8, "audience.countries[1]"),
    (
        "    <p>See {{ favourite_category }}</p>\n",
        "    <p>See {{ favourite_category </p>\n",
        12,
        "does not compile",
    ),
    ("    <p>See {{ favourite_category }}</p>\n", "    <p>{{ coupon }}</p>\n", 12, "unknown variable"),
    ('  subject: "Hi {{ first_name }}"\n', '  subject: "Hi {{ first_nam }}"\n', 9, "'first_nam'"),
    ("  flag: cart_abandoned\n", "  sql: tenure_days > 3; drop table x\n", 4, "must not contain ';'"),
    ("  flag: cart_abandoned\n", "  sql: tenure_dayz > 3\n", 4, "does not bind"),
    ("  flag: cart_abandoned\n", "  sql: tenure_days + 1\n", 4, "boolean"),
    ("template:\n", "template:\n  sendgrid_template_id: d-0123456789abcdef0123456789abcdef\n", 8, "not both"),
    ("  - name: treatment\n", "  - name: control\n", 16, "duplicate variant name"),
    (
        "  - name: control\n    weight: 1\n  - name: treatment\n    weight: 1\n",
        "  - name: control\n    weight: 1\n    control: true\n"
        "  - name: treatment\n    weight: 1\n    control: true\n",
        19,
        "only one variant",
    ),
    ("priority: 10\n", "priority: 10\npriority: 20\n", 20, "duplicate key"),
    ("cooldown_days: 7\n", "cooldown_days: 7\n---\nid: other\n", 21, "not valid YAML"),
    (
        "  countries: [US, GB]\n",
        "  countries: [US, GB]\n  min_lifetime_value: 100\n  max_lifetime_value: 10\n",
        8,
        "below min_lifetime_value",
    ),
    ("  body: |\n", "  data:\n    name: first_nam\n  body: |\n", 11, "not a features column"),
    (
        "  - name: treatment\n",
        "  - name: treatment\n    sendgrid_template_id: d-0123456789abcdef0123456789abcdef\n",
        17,
        "cannot override",
    ),
    # Targeting: lines 21-24 of the appended block.
    (T, T + "targeting:\n  mode: uplift\n", 22, "needs a budget"),
    (T, T + "targeting:\n  mode: best\n", 22, "targeting.mode"),
    (T, T + "targeting:\n  mode: rules\n  budget: {share: 0.2}\n", 23, "only ranked targeting"),
    (T, T + "targeting:\n  mode: uplift\n  budget: {share: 0.2}\n  exploration_share: 0\n", 24, "above 0"),
    (T, T + "targeting:\n  mode: uplift\n  budget: {share: 0.05}\n", 23, "below the exploration share"),
    (T, T + "targeting:\n  mode: risk\n  budget: {share: 0.2}\n  min_uplift: 0.01\n", 24, "only uplift"),
    (T, T + "targeting:\n  mode: random\n  budget: {share: 0.2, sends: 5}\n", 23, "budget"),
]


@pytest.mark.parametrize(("old", "new", "line", "reason"), INVALID, ids=[r[3] + f"@{r[2]}" for r in INVALID])
def test_an_invalid_file_names_the_file_the_line_and_the_reason(
    tmp_path: Path, old: str, new: str, line: int, reason: str
) -> None:
    assert old in VALID, "the test case no longer matches the reference file"
    path = write(tmp_path, VALID.replace(old, new, 1))
    with pytest.raises(CampaignError) as caught:
        load_campaign(path)
    error = caught.value
    assert error.file == path
    # A mistake can cause more than one problem (a misspelt field is also a missing one).
    assert any(p.line == line and reason in p.reason for p in error.problems), str(error)
    assert f"{path}:{line}:" in str(error)


def test_a_campaign_names_one_channel_or_several_in_order_of_preference(tmp_path: Path) -> None:
    # Guards the campaign files written before channels (`channel: email`) and the list form that
    # names channels in order of preference: both load, and the list keeps its order.
    assert load_campaign(write(tmp_path, VALID)).channels == ("email",)
    listed = load_campaign(write(tmp_path, VALID.replace("channel: email\n", "channels: [email]\n")))
    assert listed.channels == ("email",)


def test_uplift_targeting_reads_its_budget_and_explores_by_default(tmp_path: Path) -> None:
    text = VALID + "targeting:\n  mode: uplift\n  budget: {sends: 500}\n  min_uplift: 0.02\n"
    targeting = load_campaign(write(tmp_path, text)).targeting
    assert (targeting.mode, targeting.budget_sends, targeting.budget_share) == ("uplift", 500, None)
    assert (targeting.min_uplift, targeting.exploration_share) == (0.02, 0.1)
    assert load_campaign(write(tmp_path, VALID)).targeting.mode == "rules"


def test_a_sendgrid_template_needs_no_subject_or_body(tmp_path: Path) -> None:
    text = VALID.replace(
        '  subject: "Hi {{ first_name }}"\n  body: |\n    <p>Hello {{ first_name }}</p>\n'
        "    <p>See {{ favourite_category }}</p>\n",
        "  sendgrid_template_id: d-0123456789abcdef0123456789abcdef\n  data:\n    name: first_name\n",
    )
    campaign = load_campaign(write(tmp_path, text))
    assert campaign.template.kind == "sendgrid"
    assert campaign.template.data == {"name": "first_name"}


def test_a_template_may_use_data_only_if_every_variant_that_renders_it_provides_it(tmp_path: Path) -> None:
    text = VALID.replace("<p>Hello {{ first_name }}</p>", "<p>{{ discount }}% off</p>").replace(
        "  - name: treatment\n    weight: 1\n",
        "  - name: treatment\n    weight: 1\n    data:\n      discount: 20\n",
    )
    with pytest.raises(CampaignError) as caught:
        load_campaign(write(tmp_path, text))
    assert "'discount'" in caught.value.reason and caught.value.line == 11  # the line using it

    both = text.replace(
        "  - name: control\n    weight: 1\n",
        "  - name: control\n    weight: 1\n    data:\n      discount: 10\n",
    )
    assert load_campaign(write(tmp_path, both)).variant("control").data == {"discount": 10}


def test_an_empty_file_is_rejected_at_line_one(tmp_path: Path) -> None:
    path = write(tmp_path, "# nothing yet\n")
    with pytest.raises(CampaignError) as caught:
        load_campaign(path)
    assert (caught.value.file, caught.value.line) == (path, 1)


def test_a_campaign_id_used_in_two_files_is_rejected_in_the_second(tmp_path: Path) -> None:
    first = write(tmp_path, VALID, "a.yaml")
    second = write(tmp_path, "# copy\n" + VALID, "b.yaml")
    with pytest.raises(CampaignError) as caught:
        load_campaigns(tmp_path)
    assert caught.value.file == second
    assert caught.value.line == 2
    assert "duplicate campaign id 'demo'" in caught.value.reason and str(first) in caught.value.reason


def test_every_invalid_file_in_a_folder_is_reported_at_once(tmp_path: Path) -> None:
    write(tmp_path, VALID.replace("priority: 10", "priority: -1"), "a.yaml")
    write(tmp_path, VALID.replace("id: demo", "id: Demo Campaign"), "b.yaml")
    with pytest.raises(CampaignError) as caught:
        load_campaigns(tmp_path)
    assert [(p.file.name, p.line) for p in caught.value.problems] == [("a.yaml", 19), ("b.yaml", 1)]


def test_the_shipped_campaigns_all_load_and_cover_the_product(tmp_path: Path) -> None:
    campaigns = load_campaigns(settings.campaigns_dir())
    ids = {c.id for c in campaigns}
    assert ids == {
        "welcome_onboarding",
        "cart_abandonment",
        "browse_abandonment",
        "dormant_win_back",
        "at_risk_concierge",
        "engaged_milestone",
        "category_enthusiast",
        "cooling_text",
        "lapsed_win_back",
    }
    assert len({c.priority for c in campaigns}) == len(campaigns), "ties would be broken by churn score only"
    assert all(c.enabled and 0 <= c.holdout_share < 1 for c in campaigns)
    channels = {c.id: c.channels for c in campaigns}
    assert channels["cooling_text"] == ("sms",) and channels["lapsed_win_back"] == ("email", "sms")
    assert all(channels[c] == ("email",) for c in ids - {"cooling_text", "lapsed_win_back"})


def test_the_command_line_check_exits_non_zero_on_a_bad_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(settings.campaigns_dir())]) == 0
    write(tmp_path, VALID.replace("cooldown_days: 7", "cooldown_days: soon"))
    assert main([str(tmp_path)]) == 1
    assert "demo.yaml:20: cooldown_days" in capsys.readouterr().err


def test_the_editor_schema_file_matches_the_schema_the_loader_uses() -> None:
    # Guards against editing schema.py and forgetting to regenerate campaigns/campaign.schema.json.
    import json

    from reengage.defs.interventions.schema import CAMPAIGN_SCHEMA

    on_disk = json.loads((settings.EXAMPLE_CAMPAIGNS_DIR / "campaign.schema.json").read_text())
    assert on_disk == CAMPAIGN_SCHEMA, "regenerate it: python -m reengage.defs.interventions.schema"


def test_a_text_campaign_needs_no_subject_and_may_name_sms_alone_or_after_email(tmp_path: Path) -> None:
    # Guards the SMS channel in campaign files: `channel: sms` was refused as not available; a text has
    # no subject (only a channel with one, email, needs it) and is plain text.
    text_template = VALID.replace(
        'template:\n  subject: "Hi {{ first_name }}"\n  body: |\n    <p>Hello {{ first_name }}</p>\n'
        "    <p>See {{ favourite_category }}</p>\n",
        "template:\n  format: text\n  body: Hi {{ first_name }}, see {{ favourite_category }}\n",
    )
    sms_only = load_campaign(write(tmp_path, text_template.replace("channel: email\n", "channel: sms\n")))
    assert (sms_only.channels, sms_only.template.subject) == (("sms",), None)
    with pytest.raises(CampaignError, match="needs 'subject' as well"):
        load_campaign(write(tmp_path, text_template.replace("channel: email\n", "channels: [sms, email]\n")))
    both = text_template.replace(
        "channel: email\ntemplate:\n", 'channels: [email, sms]\ntemplate:\n  subject: "Hi {{ first_name }}"\n'
    )
    assert load_campaign(write(tmp_path, both)).channels == ("email", "sms")
