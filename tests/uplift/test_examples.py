"""The examples an uplift model learns from: matured randomized decisions and what followed them."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from reengage.learning.features import FEATURES
from reengage.learning.uplift.examples import ExampleSpec, decision_examples
from reengage.schema.migrations import migrate

D = date(2025, 3, 10)


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("set timezone = 'UTC'")
    migrate(con)
    con.execute("""
        create schema intermediate;
        create schema staging;
        -- as dbt builds them: event times are naive UTC
        create table intermediate.int_events_stitched (customer_id varchar, event_name varchar,
            event_ts timestamp, is_active_action boolean, value double);
        create table staging.stg_crm__customers (customer_id varchar, signup_at timestamptz, plan varchar);
        insert into staging.stg_crm__customers
            select 'c' || i, timestamptz '2025-01-01 00:00:00+00', 'free' from range(1, 7) t(i);
        insert into intermediate.int_events_stitched values
            ('c1', 'purchase', '2025-03-11 12:00:00', true, 20),   -- after its send, in the window
            ('c2', 'purchase', '2025-03-10 09:00:00', true, 20),   -- before the (would-be) send
            ('c3', 'purchase', '2025-03-13 11:00:00', true, 20),   -- after the 3-day window closed
            ('c3', 'page_view', '2025-03-11 11:00:00', false, null); -- not the target event
    """)
    rows = [
        # customer, reason, treatment_probability, control_probability, exploration, scheduled
        ("c1", "chosen", 0.8, 0.1, True, "2025-03-10 10:00:00+00"),
        ("c2", "campaign_holdout", 0.8, 0.1, False, "2025-03-10 10:00:00+00"),
        ("c3", "global_holdout", 0.8, 0.1, False, "2025-03-10 10:00:00+00"),
        ("c4", "suppressed:no_consent", 0.0, 0.0, False, None),  # chance could not send it
        ("c5", "render_error:UndefinedError", 0.8, 0.1, False, "2025-03-10 10:00:00+00"),  # a bug decided
        ("c6", "chosen", None, None, None, "2025-03-10 10:00:00+00"),  # decided before chances were recorded
        ("c6", "chosen", 0.8, None, False, "2025-03-11 10:00:00+00"),  # before the control chance was
        # Not drawn by a random targeting today: neither sent nor held back for good.
        ("c4", "targeting:not_drawn", 0.2, 0.05, False, "2025-03-11 10:00:00+00"),
    ]
    # The last is not matured by the end of 2025-03-15 with a 3-day window.
    rows.append(("c1", "chosen", 0.8, 0.1, False, "2025-03-14 10:00:00+00"))
    insert = (
        "insert into interventions.decisions (run_date, customer_id, campaign_id, channel, outcome, reason,"
        " priority, treatment_probability, control_probability, exploration, scheduled_send_at_utc)"
        " values (?, ?, 'c', 'email', ?, ?, 1, ?, ?, ?, ?)"
    )
    for customer, reason, chance, control_chance, explored, scheduled in rows:
        day = date.fromisoformat(scheduled[:10]) if scheduled else D
        outcome = reason.split(":")[0]
        con.execute(insert, [day, customer, outcome, reason, chance, control_chance, explored, scheduled])
    return con


def examples_of(con: duckdb.DuckDBPyConnection, window_days: int, as_of: date):
    return decision_examples(con, [ExampleSpec("c", "purchase", window_days)], as_of)["c"]


def test_only_matured_decisions_chance_could_have_gone_either_way_are_examples(con) -> None:
    # Guards the training data's meaning: a suppressed row, a render failure, a row without a
    # recorded chance or one whose window is still open would each teach the model something false.
    examples = examples_of(con, 3, date(2025, 3, 15))
    assert list(examples["customer_id"]) == ["c1", "c2", "c3", "c4"]
    assert list(examples["treated"]) == [1, 0, 0, 0]
    assert list(examples["propensity"]) == [0.8, 0.8, 0.8, 0.2]
    assert list(examples["exploration"]) == [True, False, False, False]
    # The holdouts are the comparison arm; a row merely not drawn today is not.
    assert list(examples["control"]) == [0, 1, 1, 0]
    assert list(examples["control_propensity"]) == [0.1, 0.1, 0.1, 0.05]
    assert set(FEATURES) <= set(examples.columns)


def test_a_conversion_counts_only_within_the_window_from_the_time_the_message_went_or_would_have_gone(
    con,
) -> None:
    # Guards the shared clock of both arms: c2's purchase came before its would-be send, c3's
    # after the window closed; neither is the message's doing.
    examples = examples_of(con, 3, date(2025, 3, 15))
    assert dict(zip(examples["customer_id"], examples["converted"], strict=True)) == {
        "c1": 1,
        "c2": 0,
        "c3": 0,
        "c4": 0,
    }
    # A longer window takes in c3's purchase, and the 2025-03-14 row matures a few days later.
    later = examples_of(con, 4, date(2025, 3, 25))
    assert list(
        zip(later["run_date"].astype(str), later["customer_id"], later["converted"], strict=True)
    ) == [
        ("2025-03-10", "c1", 1),
        ("2025-03-10", "c2", 0),
        ("2025-03-10", "c3", 1),
        ("2025-03-11", "c4", 0),
        ("2025-03-14", "c1", 0),
    ]


def test_the_features_of_an_example_are_as_of_its_run_date(con) -> None:
    # Guards against leakage: c1's purchase on 2025-03-11 is after its decision day, so the
    # features the model learns from must not count it.
    examples = examples_of(con, 3, date(2025, 3, 15))
    c1 = examples.set_index("customer_id").loc["c1"]
    assert c1["purchases_90d"] == 0 and c1["days_since_last_active"] == (D - date(2025, 1, 1)).days


def test_a_look_back_keeps_only_the_recent_decisions_and_an_unknown_campaign_has_none(con) -> None:
    specs = [ExampleSpec("c", "purchase", 4), ExampleSpec("never_ran", "purchase", 4)]
    recent = decision_examples(con, specs, date(2025, 3, 25), lookback_days=12)
    assert list(recent["c"]["run_date"].astype(str)) == ["2025-03-14"]
    assert recent["never_ran"].empty and list(recent["never_ran"].columns) == list(recent["c"].columns)
