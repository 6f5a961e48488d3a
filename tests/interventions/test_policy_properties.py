"""Properties that must hold for any population and any send history, not just hand-picked ones."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reengage.defs.interventions.campaigns import Trigger
from reengage.defs.interventions.policy import PolicyConfig, run_policy

from .conftest import make_campaign, user, write_features, write_responses, write_suppressions

D = date(2025, 5, 20)
NOW = datetime(2025, 5, 20, tzinfo=UTC)
PROPERTY_SETTINGS = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CAMPAIGNS = [
    make_campaign("cart", 10, trigger=Trigger(flags=("cart_abandoned",)), holdout_share=0.3),
    make_campaign("everyone", 20, holdout_share=0.2),
    make_campaign("new", 30, trigger=Trigger(flags=("is_new_user",))),
]

people = st.lists(
    st.fixed_dictionaries(
        {
            "consent": st.sampled_from([True, True, True, False, None]),
            "email": st.sampled_from(["valid", "valid", "missing", "blank", "invalid"]),
            "suppressed": st.sampled_from([None, None, "bounce", "unsubscribe", "spamreport"]),
            "shout": st.booleans(),  # suppression list and CRM disagree on case
            "cart": st.booleans(),
            "new": st.booleans(),
        }
    ),
    min_size=1,
    max_size=25,
)


@PROPERTY_SETTINGS
@given(population=people, global_share=st.sampled_from([0.0, 0.3]))
def test_only_consenting_unsuppressed_valid_addresses_are_ever_listed(population, global_share) -> None:
    con = duckdb.connect()
    rows, suppressions, eligible = [], [], set()
    for i, person in enumerate(population):
        customer = f"c{i}"
        address = {"valid": f"{customer}@example.com", "missing": None, "blank": " ", "invalid": "x@"}[
            person["email"]
        ]
        if person["shout"] and address:
            address = address.upper()
        rows.append(
            user(
                customer,
                email=address,
                marketing_consent=person["consent"],
                cart_abandoned=person["cart"],
                is_new_user=person["new"],
            )
        )
        if person["suppressed"]:
            suppressions.append((f"{customer}@example.com", person["suppressed"]))
        if person["consent"] is True and person["email"] == "valid" and not person["suppressed"]:
            eligible.add(customer)
    write_suppressions(con, suppressions)
    write_responses(con)
    write_features(con, rows, as_of=D)
    run_policy(con, D, CAMPAIGNS, PolicyConfig(global_holdout_share=global_share), NOW)

    listed = con.execute("select customer_id, contact from interventions.intervention_list").fetchall()
    assert {c for c, _ in listed} <= eligible
    assert len(listed) == len({c for c, _ in listed}), "one message (or holdout) per user per day"
    decisions = con.execute("select customer_id, reason from interventions.decisions").fetchall()
    assert {c for c, _ in decisions} == {f"c{i}" for i in range(len(population))}  # "everyone" triggers all
    for customer, reason in decisions:
        assert reason.startswith("suppressed:") == (customer not in eligible), (customer, reason)
    if global_share == 0.0:
        assert {c for c, _ in listed} == eligible


history_rows = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=4),  # customer
        st.integers(min_value=1, max_value=9),  # days before D the run happened
        st.booleans(),  # delivered a day late
        st.sampled_from(["accepted", "accepted", "planned", "failed", "cancelled"]),
    ),
    max_size=30,
)


@PROPERTY_SETTINGS
@given(history=history_rows, per_day=st.integers(min_value=0, max_value=2), per_week=st.integers(0, 5))
def test_a_user_is_chosen_exactly_when_under_both_frequency_caps(history, per_day, per_week) -> None:
    con = duckdb.connect()
    write_suppressions(con)
    write_responses(con)
    write_features(con, [user(f"c{i}") for i in range(5)], as_of=D)
    con.execute("create schema delivery")
    con.execute(
        "create table delivery.campaign_sends (send_id varchar, run_date date, customer_id varchar,"
        " campaign_id varchar, variant varchar, state varchar, accepted_at timestamptz)"
    )
    today, week = {f"c{i}": 0 for i in range(5)}, {f"c{i}": 0 for i in range(5)}
    for n, (customer, days_ago, late, state) in enumerate(history):
        run_date = D - timedelta(days=days_ago)
        reached = run_date + timedelta(days=1 if late else 0)
        con.execute(
            "insert into delivery.campaign_sends values (?, ?, ?, 'old', 'control', ?, ?)",
            [
                f"s{n}",
                run_date,
                f"c{customer}",
                state,
                datetime(reached.year, reached.month, reached.day, 12, tzinfo=UTC),
            ],
        )
        if state in ("accepted", "planned"):
            today[f"c{customer}"] += reached == D
            week[f"c{customer}"] += D - timedelta(days=6) <= reached <= D
    config = PolicyConfig(global_holdout_share=0.0, max_per_day=per_day, max_per_week=per_week)
    run_policy(con, D, [make_campaign("c")], config, NOW)

    reasons = dict(con.execute("select customer_id, reason from interventions.decisions").fetchall())
    for customer in today:
        under = today[customer] < per_day and week[customer] < per_week
        assert reasons[customer] == ("chosen" if under else "frequency_cap"), (customer, today, week)
