"""Personal blocks in messages, read from the context marts the real dbt project built (blocks_world.py).

Each test runs the real policy on its own copy of the built warehouse and reads what it listed:
the rendered body of a Jinja campaign, the template data of a SendGrid one.
"""

from __future__ import annotations

import json
import shutil
import textwrap
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from reengage.defs.interventions.campaigns import Campaign, load_campaigns
from reengage.defs.interventions.policy import PolicyConfig, PolicyError, run_policy

from .blocks_world import MARKUP_NAME, SOCIAL_PROOF_MIN_COUNT, build_blocks_warehouse
from .raw_world import RUN_DATE

D = date.fromisoformat(RUN_DATE)
NOW = datetime(2026, 1, 10, 0, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def blocks_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_blocks_warehouse(tmp_path_factory.mktemp("blocks_build"))


@pytest.fixture
def warehouse(blocks_build: Path, tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    copy = tmp_path / "warehouse.duckdb"
    shutil.copyfile(blocks_build, copy)
    con = duckdb.connect(str(copy))
    con.execute("set timezone = 'UTC'")
    yield con
    con.close()


def campaigns(tmp_path: Path, **files: str) -> list[Campaign]:
    folder = tmp_path / "campaigns"
    folder.mkdir(exist_ok=True)
    for name, text in files.items():
        (folder / f"{name}.yaml").write_text(textwrap.dedent(text))
    return load_campaigns(folder)


def decide_and_list(con: duckdb.DuckDBPyConnection, chosen: list[Campaign]) -> dict[str, dict[str, Any]]:
    run_policy(con, D, chosen, PolicyConfig(global_holdout_share=0.0), now=NOW)
    cursor = con.execute(
        "select customer_id, campaign_id, subject, body, template_data from interventions.intervention_list"
    )
    columns = [d[0] for d in cursor.description]
    return {row[0]: dict(zip(columns, row, strict=True)) for row in cursor.fetchall()}


def reasons(con: duckdb.DuckDBPyConnection, campaign_id: str) -> dict[str, str]:
    return dict(
        con.execute(
            "select customer_id, reason from interventions.decisions where campaign_id = ?", [campaign_id]
        ).fetchall()
    )


CART_JINJA = """
    id: cart_jinja
    description: The cart, rendered by the pipeline.
    trigger: {sql: "true"}
    channel: email
    template:
      subject: "{{ cart_items | length }} item(s) waiting"
      body: |
        <ul>
        {% for item in cart_items -%}
        <li>{{ item.name }} | {{ '%.2f'|format(item.price) }} {{ item.currency }} | x{{ item.quantity }}</li>
        {% endfor -%}
        </ul>
      blocks:
        cart_items: {limit: 3, when_empty: skip}
    holdout_share: 0
    priority: 10
    cooldown_days: 0
"""


def test_the_email_lists_exactly_the_persons_abandoned_items_in_order_with_prices(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    listed = decide_and_list(warehouse, campaigns(tmp_path, cart=CART_JINJA))
    body = listed["c_atrisk"]["body"]
    lines = [line.strip() for line in body.splitlines() if line.strip().startswith("<li>")]
    # s2 added last, then x1, then p2 (added twice); s1, the oldest, is past the limit of 3;
    # p3 was bought after it was added, so it is not in the cart at all.
    assert lines == [
        "<li>Product S2 | 62.00 EUR | x1</li>",
        "<li>&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; Trail Boots | 45.00 EUR | x1</li>",
        "<li>Product P2 | 12.00 EUR | x2</li>",
    ]
    assert "Product P3" not in body and "Product S1" not in body
    assert listed["c_atrisk"]["subject"] == "3 item(s) waiting"
    # c_new's own cart, and nothing of c_atrisk's
    assert "Product P1 | 24.50 EUR | x1" in listed["c_new"]["body"]
    assert "S2" not in listed["c_new"]["body"]


def test_markup_in_a_product_name_is_escaped_in_an_html_body(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    body = decide_and_list(warehouse, campaigns(tmp_path, cart=CART_JINJA))["c_atrisk"]["body"]
    assert "<script>" not in body
    assert "&lt;script&gt;" in body


def test_an_empty_skip_block_sends_nothing_and_records_its_own_reason(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    listed = decide_and_list(warehouse, campaigns(tmp_path, cart=CART_JINJA))
    by_customer = reasons(warehouse, "cart_jinja")
    assert set(listed) == {"c_atrisk", "c_new"}
    assert {c for c, r in by_customer.items() if r == "chosen"} == {"c_atrisk", "c_new"}
    # The two others who may be mailed have no cart (c_fan bought what it added); the rest are
    # suppressed first, whatever their cart.
    assert {c for c, r in by_customer.items() if r == "empty_block:cart_items"} == {"c_sessions", "c_fan"}
    assert all(
        r.startswith("suppressed:")
        for c, r in by_customer.items()
        if c not in {*listed, "c_sessions", "c_fan"}
    )
    outcome = warehouse.execute(
        "select distinct outcome from interventions.decisions where reason like 'empty_block:%'"
    ).fetchall()
    assert outcome == [("empty_block",)]


def test_an_empty_skip_block_leaves_the_day_to_the_next_campaign(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    fallback = """
        id: fallback_note
        description: Anyone the cart reminder passes over.
        trigger: {sql: "true"}
        channel: email
        template: {subject: "Hello", body: "<p>Hello</p>"}
        holdout_share: 0
        priority: 20
        cooldown_days: 0
    """
    listed = decide_and_list(warehouse, campaigns(tmp_path, cart=CART_JINJA, fallback=fallback))
    assert {c for c, row in listed.items() if row["campaign_id"] == "cart_jinja"} == {"c_atrisk", "c_new"}
    skipped = {c for c, r in reasons(warehouse, "cart_jinja").items() if r == "empty_block:cart_items"}
    assert skipped and all(listed[c]["campaign_id"] == "fallback_note" for c in skipped)


def test_a_held_out_user_with_an_empty_block_is_skipped_like_a_treated_one(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    # Nearly everyone held out: the empty-block rule still decides first, so the holdout only
    # ever holds people the message would have been sent to.
    held = CART_JINJA.replace("holdout_share: 0\n", "holdout_share: 0.99\n")
    decide_and_list(warehouse, campaigns(tmp_path, cart=held))
    rows = warehouse.execute(
        "select customer_id, reason from interventions.decisions where campaign_id = 'cart_jinja'"
        " and reason in ('campaign_holdout', 'chosen')"
    ).fetchall()
    assert {customer for customer, _ in rows} == {"c_atrisk", "c_new"}


SENDGRID_BLOCKS = """
    id: blocks_sendgrid
    description: Every block, through a SendGrid dynamic template.
    trigger: {sql: "true"}
    channel: email
    template:
      sendgrid_template_id: d-0123456789abcdef0123456789abcdef
      data: {first_name: first_name}
      blocks:
        cart_items: {limit: 3, when_empty: generic}
        recommended: {limit: 4, when_empty: generic}
        social_proof: {limit: 5}
        progress: {}
    holdout_share: 0
    priority: 10
    cooldown_days: 0
"""


def template_data(listed: dict[str, dict[str, Any]], customer: str) -> dict[str, Any]:
    return json.loads(listed[customer]["template_data"])


def test_sendgrid_template_data_carries_each_block_as_a_list_of_objects(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    listed = decide_and_list(warehouse, campaigns(tmp_path, blocks=SENDGRID_BLOCKS))
    data = template_data(listed, "c_atrisk")
    assert data["first_name"] == "Atrisk"
    assert data["cart_items"] == [
        {
            "product_id": "s2",
            "name": "Product S2",
            "category": "shoes",
            "price": 62.0,
            "currency": "EUR",
            "image_url": "https://shop.example.com/images/s2.jpg",
            "product_url": "https://shop.example.com/product/s2",
            "quantity": 1,
            "in_stock": True,
        },
        {
            "product_id": "x1",
            "name": MARKUP_NAME,  # SendGrid's handlebars escape it; the data is the catalog's
            "category": "shoes",
            "price": 45.0,
            "currency": "EUR",
            "image_url": "https://shop.example.com/images/x1.jpg",
            "product_url": "https://shop.example.com/product/x1",
            "quantity": 1,
            "in_stock": True,
        },
        {
            "product_id": "p2",
            "name": "Product P2",
            "category": "books",
            "price": 12.0,
            "currency": "EUR",
            "image_url": "https://shop.example.com/images/p2.jpg",
            "product_url": "https://shop.example.com/product/p2",
            "quantity": 2,
            "in_stock": True,
        },
    ]
    assert data["cart_items_fallback"] is False
    # the recommendations mart's order, not its rows' order
    assert [item["product_id"] for item in data["recommended"]] == ["p1", "p9"]
    assert set(data["recommended"][0]) == {
        "product_id", "name", "category", "price", "currency", "image_url", "product_url"
    }  # fmt: skip
    assert data["progress"]["order_count"] == 1
    assert data["progress_fallback"] is False


def test_social_proof_claims_only_what_reached_the_minimum_about_what_the_message_shows(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    listed = decide_and_list(warehouse, campaigns(tmp_path, blocks=SENDGRID_BLOCKS))
    claimable = {
        (scope, scope_id)
        for scope, scope_id in warehouse.execute(
            "select scope, scope_id from marts.fct_product_social_proof where claimable"
        ).fetchall()
    }
    claims_seen = 0
    for customer in listed:
        for claim in template_data(listed, customer)["social_proof"]:
            key = claim["product_id"] if claim["scope"] == "product" else claim["category"]
            assert (claim["scope"], key) in claimable
            counts = [claim[k] for k in ("viewers_24h", "viewers_7d", "buyers_24h", "buyers_7d")]
            assert all(n is None or n >= SOCIAL_PROOF_MIN_COUNT for n in counts)
            assert any(n is not None for n in counts)
            claims_seen += 1
    atrisk = template_data(listed, "c_atrisk")["social_proof"]
    # s2 is shown and two people viewed it; p2 is shown but one person alone viewed it; s1 was
    # viewed by two but is not shown (past the cart's limit).
    products = [c["product_id"] for c in atrisk if c["scope"] == "product"]
    assert products == ["s2"]
    assert atrisk[0]["viewers_7d"] == 2
    assert claims_seen >= 1


def test_a_generic_block_falls_back_to_popular_products_and_says_so(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    # c_sessions has had a quiet time since: no order, no active week
    warehouse.execute(
        "update marts.fct_user_progress set current_streak_weeks = 0 where customer_id = 'c_sessions'"
    )
    listed = decide_and_list(warehouse, campaigns(tmp_path, blocks=SENDGRID_BLOCKS))
    # c_sessions has no cart and no recommendations: the popular products (in stock, claimable
    # by the social-proof minimum: s1 and s2, two viewers each) stand in, flagged.
    data = template_data(listed, "c_sessions")
    assert [item["product_id"] for item in data["cart_items"]] == ["s1", "s2"]
    assert data["cart_items_fallback"] is True
    assert [item["product_id"] for item in data["recommended"]] == ["s1", "s2"]
    assert data["recommended_fallback"] is True
    # and nothing to celebrate: no progress object, the flag says why
    assert data["progress"] is None and data["progress_fallback"] is True
    assert template_data(listed, "c_fan")["progress_fallback"] is False


def test_a_missing_mart_stops_the_run_naming_it(warehouse: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    warehouse.execute("drop table marts.fct_user_recommendations")
    with pytest.raises(PolicyError, match=r"marts\.fct_user_recommendations does not exist.*blocks_sendgrid"):
        decide_and_list(warehouse, campaigns(tmp_path, blocks=SENDGRID_BLOCKS))


def test_a_text_shows_blocks_in_plain_text(warehouse: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    text = """
        id: views_text
        description: What they looked at, by text.
        trigger: {sql: "true"}
        channel: sms
        template:
          format: text
          body: "Still looking? {% for i in recent_views %}{{ i.name }}{{', ' if not loop.last}}{% endfor %}"
          max_segments: 1
          blocks:
            recent_views: {limit: 3, when_empty: skip}
        holdout_share: 0
        priority: 10
        cooldown_days: 0
    """
    listed = decide_and_list(warehouse, campaigns(tmp_path, text=text))
    # c_fan (texts agreed) viewed s0..s4 and carted s4: the three viewed last, most recent first
    assert listed["c_fan"]["body"] == "Still looking? Product S3, Product S2, Product S1"
    assert set(listed) == {"c_fan"}  # the only other one texts may reach has a failed number
