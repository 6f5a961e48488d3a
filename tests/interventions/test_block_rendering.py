"""Blocks through the real policy on hand-built marts typed by their dbt contracts: each person's message
holds their own data and nobody else's, and a SendGrid message's data stays within its limit.

The marts' own meanings (what is in a cart, what may be claimed) are tested on the real dbt build
(tests/warehouse/test_message_blocks.py); here the marts are written directly, so many people and
shapes can be tried.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reengage.defs.delivery.payloads import MAX_TEMPLATE_DATA_BYTES
from reengage.defs.interventions.blocks import Block, column_name, fallback_column
from reengage.defs.interventions.campaigns import Template, Trigger, Variant
from reengage.defs.interventions.messages import render_messages
from reengage.defs.interventions.policy import PolicyConfig, run_policy

from .conftest import make_campaign, user, write_features, write_mart, write_responses, write_suppressions

D = date(2025, 3, 10)
NOW = datetime(2025, 3, 10, 0, 0, tzinfo=UTC)


def cart_item(customer_id: str, rank: int, name: str, price: float) -> dict[str, Any]:
    product = f"{customer_id}-p{rank}"
    return {
        "cart_item_id": f"{customer_id}|{product}",
        "customer_id": customer_id,
        "as_of_date": D,
        "product_id": product,
        "cart_rank": rank,
        "quantity": 1,
        "last_added_at": datetime(2025, 3, 9, 12, 0),
        "product_name": name,
        "category": "misc",
        "price": price,
        "currency": "EUR",
        "image_url": f"https://shop.example.com/i/{product}.jpg",
        "product_url": f"https://shop.example.com/p/{product}",
        "in_stock": True,
    }


CAMPAIGNS = [
    make_campaign(
        "cart_html",
        trigger=Trigger(sql="plan = 'free'"),
        template=Template(
            subject="{{ first_name }}, your cart",
            body="<p>{{ first_name }}</p>"
            "{% for i in cart_items %}<li>{{ i.name }} {{ i.price }}</li>{% endfor %}",
            blocks=(Block("cart_items", 3, "skip"),),
        ),
    ),
    make_campaign(
        "cart_sendgrid",
        trigger=Trigger(sql="plan = 'pro'"),
        template=Template(
            sendgrid_template_id="d-0123456789abcdef0123456789abcdef",
            data={"first_name": "first_name"},
            blocks=(Block("cart_items", 10, "skip"),),
        ),
    ),
]

people = st.lists(
    st.tuples(
        st.text("abcdefghijklmnopqrstuvwxyz", min_size=6, max_size=6),  # name tail
        st.sampled_from(["free", "pro"]),
        st.integers(0, 4),  # cart size
    ),
    min_size=2,
    max_size=6,
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(people)
def test_no_message_holds_anything_of_another_person(chosen: list[tuple[str, str, int]]) -> None:
    con = duckdb.connect()
    con.execute("set timezone = 'UTC'")
    write_suppressions(con)
    write_responses(con)
    # Every personal value is a token no other value contains: the person's number at a fixed place.
    personal: dict[str, set[str]] = {}
    users, items = [], []
    for n, (tail, plan, cart) in enumerate(chosen):
        customer = f"cust{n:02d}"
        name = f"Nm{n:02d}{tail}"
        users.append(user(customer, first_name=name, plan=plan, email=f"em{n:02d}{tail}@example.com"))
        own = [f"It{n:02d}r{r}{tail}" for r in range(1, cart + 1)]
        items += [cart_item(customer, r, label, 10.0 + n) for r, label in enumerate(own, start=1)]
        personal[customer] = {name, f"em{n:02d}{tail}@example.com", *own}
    write_features(con, users, D)
    write_mart(con, "fct_user_cart_items", items)

    run_policy(con, D, CAMPAIGNS, PolicyConfig(global_holdout_share=0.0), now=NOW)
    listed = con.execute(
        "select customer_id, coalesce(subject, '') || coalesce(body, '') || template_data"
        " from interventions.intervention_list"
    ).fetchall()
    assert {c for c, _ in listed} == {f"cust{n:02d}" for n, (_, _, cart) in enumerate(chosen) if cart}
    for customer, message in listed:
        others = set().union(*(values for who, values in personal.items() if who != customer))
        assert not {value for value in others if value in message}, customer
        own_items = sorted(v for v in personal[customer] if v.startswith("It"))
        assert all(item in message for item in own_items[:3])  # the first 3 at least, in both kinds
    con.close()


def sendgrid_row(name: str) -> dict[str, Any]:
    block = [{"product_id": "p1", "name": name, "price": 1.0}]
    return {
        "send_id": "s1",
        "customer_id": "c1",
        "campaign_id": "cart_sendgrid",
        "variant": "control",
        "arm": "treatment",
        "channel": "email",
        "first_name": "Ada",
        column_name("cart_items"): block,
        fallback_column("cart_items"): False,
    }


def test_sendgrid_data_at_its_byte_limit_is_listed_and_one_byte_more_is_a_render_error() -> None:
    rendered, _ = render_messages([sendgrid_row("")], CAMPAIGNS)
    room = MAX_TEMPLATE_DATA_BYTES - len(rendered.to_pylist()[0]["template_data"])
    at_limit, failures = render_messages([sendgrid_row("x" * room)], CAMPAIGNS)
    assert failures == []
    data = at_limit.to_pylist()[0]["template_data"]
    assert len(data.encode("utf-8")) == MAX_TEMPLATE_DATA_BYTES
    assert json.loads(data)["cart_items"][0]["name"] == "x" * room
    over, failures = render_messages([sendgrid_row("x" * (room + 1))], CAMPAIGNS)
    assert (len(over), failures) == (0, [("c1", "cart_sendgrid", "template_data_too_large")])
    # one non-ASCII character is six bytes as sent (\uXXXX): counted as such
    _, failures = render_messages([sendgrid_row("x" * (room - 6) + "é")], CAMPAIGNS)
    assert failures == []
    _, failures = render_messages([sendgrid_row("x" * (room - 5) + "é")], CAMPAIGNS)
    assert failures == [("c1", "cart_sendgrid", "template_data_too_large")]


def test_a_held_out_row_never_reads_blocks() -> None:
    row = {**sendgrid_row("Secret Boots"), "arm": "holdout"}
    rendered, failures = render_messages([row], CAMPAIGNS)
    assert failures == []
    assert json.loads(rendered.to_pylist()[0]["template_data"]) == {"first_name": "Ada"}


PERSONAL_VS_GENERIC = make_campaign(
    "cart_test",
    holdout_share=0.2,
    variants=(
        Variant("generic", 1.0, control=True, shows_blocks=False),
        Variant("personal", 1.0),
    ),
    template=Template(
        sendgrid_template_id="d-0123456789abcdef0123456789abcdef",
        data={"first_name": "first_name"},
        blocks=(Block("cart_items", 3, "skip"),),
    ),
)


def test_a_variant_without_blocks_sends_no_block_data_to_the_same_users_the_empty_rule_keeps() -> None:
    # Guards the personal-versus-generic comparison: the generic variant's message must carry no
    # cart, and the empty rule must leave out the same people whatever variant they would draw,
    # or the two variants would not compare like with like.
    con = duckdb.connect()
    con.execute("set timezone = 'UTC'")
    write_suppressions(con)
    write_responses(con)
    users, items = [], []
    for n in range(120):
        customer = f"cust{n:03d}"
        users.append(user(customer, first_name=f"Name{n}", email=f"em{n:03d}@example.com"))
        items += [cart_item(customer, r, f"Item{n}r{r}", 10.0) for r in range(1, n % 3 + 1)]
    write_features(con, users, D)
    write_mart(con, "fct_user_cart_items", items)

    run_policy(con, D, [PERSONAL_VS_GENERIC], PolicyConfig(global_holdout_share=0.0), now=NOW)
    reasons = dict(
        con.execute(
            "select customer_id, reason from interventions.decisions where campaign_id = 'cart_test'"
        ).fetchall()
    )
    empty_cart = {f"cust{n:03d}" for n in range(120) if n % 3 == 0}
    # Decided before the draw: nobody with an empty cart is listed, in either variant or arm.
    assert {c for c, reason in reasons.items() if reason == "empty_block:cart_items"} == empty_cart
    listed = con.execute(
        "select customer_id, variant, arm, template_data from interventions.intervention_list"
        " where campaign_id = 'cart_test'"
    ).fetchall()
    assert {c for c, *_ in listed} == set(reasons) - empty_cart
    treated = {
        v: [(c, t) for c, vv, a, t in listed if vv == v and a == "treatment"] for v in ("generic", "personal")
    }
    assert min(len(treated["generic"]), len(treated["personal"])) >= 20
    for customer, text in treated["generic"]:
        assert json.loads(text) == {"first_name": f"Name{int(customer[4:])}"}, customer
    for customer, text in treated["personal"]:
        n, data = int(customer[4:]), json.loads(text)
        assert data["cart_items_fallback"] is False
        assert [item["name"] for item in data["cart_items"]] == [f"Item{n}r{r}" for r in range(1, n % 3 + 1)]
    con.close()
