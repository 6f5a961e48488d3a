"""Point-in-time features and labels: exact windows, UTC cut-off, and no leakage from the future."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import duckdb
import pandas as pd
import pytest
from churn_world import RUN_DATE, append_events, future_events, load_world, make_world

from reengage.learning import features
from reengage.learning.features import (
    FEATURES,
    LeakageError,
    assert_no_leakage,
    cutoff,
    label_examples,
    snapshot_features,
)
from reengage.tables import as_frame

AS_OF = date(2024, 4, 30)  # cut-off 2024-05-01T00:00Z

TINY_CUSTOMERS = [
    ("a", "2024-01-01T08:00:00Z", "pro"),
    ("b", "2024-04-20T10:00:00Z", None),
    ("c", "2024-05-01T00:00:00Z", "free"),  # signs up after the snapshot
    ("d", "2024-04-30T23:00:00Z", "free"),  # signs up on the snapshot day
]
TINY_EVENTS = [
    ("a", "purchase", "2024-04-30T23:59:59Z", 20.0),  # last second of D
    ("a", "add_to_cart", "2024-04-24T00:00:00Z", None),  # D-6: inside the 7 days
    ("a", "add_to_cart", "2024-04-23T12:00:00Z", None),  # D-7: first day of the prior 28
    ("a", "form_submit", "2024-03-27T09:00:00Z", None),  # D-34: last day of the prior 28
    ("a", "form_submit", "2024-03-26T09:00:00Z", None),  # D-35: outside every window
    ("a", "page_view", "2024-04-03T09:00:00Z", None),  # D-27: inside 28 days
    ("a", "page_view", "2024-04-02T09:00:00Z", None),  # D-28: outside 28 days
    ("a", "purchase", "2024-02-01T09:00:00Z", 5.0),  # D-89: inside 90 days
    ("a", "purchase", "2024-01-31T09:00:00Z", 1000.0),  # D-90: outside 90 days
    ("a", "purchase", "2024-05-01T00:00:00Z", 999.0),  # first instant after D: future
    ("b", "page_view", "2024-04-25T09:00:00Z", None),  # passive only
    ("b", "add_to_cart", "2024-04-30T20:00:00-05:00", None),  # 01:00Z on May 1st: future
    (None, "add_to_cart", "2024-04-29T09:00:00Z", None),  # anonymous, never stitched
]


@pytest.fixture
def tiny_con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    load_world(con, make_world(TINY_CUSTOMERS, TINY_EVENTS))
    return con


def test_features_count_each_window_on_utc_day_boundaries(tiny_con: duckdb.DuckDBPyConnection) -> None:
    frame = snapshot_features(tiny_con, AS_OF).set_index("customer_id")

    assert frame.loc["a"].to_dict() == {
        "snapshot_date": AS_OF,
        "days_since_last_active": 0,
        "active_actions_7d": 2,
        "active_actions_prior_28d": 2,
        "events_28d": 4,
        "active_days_28d": 3,
        "purchases_90d": 2,
        "revenue_90d": 25.0,
        "tenure_days": 120,
        "plan": "pro",
    }


def test_customer_without_active_actions_counts_recency_from_signup(
    tiny_con: duckdb.DuckDBPyConnection,
) -> None:
    b = snapshot_features(tiny_con, AS_OF).set_index("customer_id").loc["b"]

    assert b["days_since_last_active"] == 10
    assert b["tenure_days"] == 10
    assert b["active_actions_7d"] == 0  # the 20:00-05:00 add_to_cart is May 1st in UTC
    assert b["events_28d"] == 1
    assert b["plan"] == "unknown"


def test_only_customers_signed_up_by_the_snapshot_get_a_row(tiny_con: duckdb.DuckDBPyConnection) -> None:
    frame = snapshot_features(tiny_con, AS_OF)

    assert list(frame["customer_id"]) == ["a", "b", "d"]
    assert list(frame.columns) == ["customer_id", "snapshot_date", *FEATURES]
    assert frame.set_index("customer_id").loc["d", "tenure_days"] == 0


def test_features_do_not_change_when_future_events_arrive(con: duckdb.DuckDBPyConnection) -> None:
    # Guards the central leakage rule: a snapshot for D must be identical before and after D+1's data lands.
    as_of = RUN_DATE - timedelta(days=20)
    before = snapshot_features(con, as_of)
    customers = as_frame(con.execute("select customer_id from staging.stg_crm__customers"))[
        "customer_id"
    ].tolist()
    append_events(con, future_events(customers, as_of))
    con.execute(
        "insert into staging.stg_crm__customers (customer_id, signup_at, plan) values ('late', $ts, 'pro')",
        {"ts": cutoff(as_of)},
    )

    after = snapshot_features(con, as_of)

    pd.testing.assert_frame_equal(before, after)
    assert after.attrs["max_event_ts_used"] < cutoff(as_of)


def test_a_feature_query_that_forgets_the_cutoff_is_refused(
    tiny_con: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Guards against a future edit of the SQL silently dropping the event_ts filter.
    assert "and event_ts < $cutoff" in features._FEATURES_SQL
    monkeypatch.setattr(
        features, "_FEATURES_SQL", features._FEATURES_SQL.replace("and event_ts < $cutoff", "")
    )

    with pytest.raises(LeakageError, match="at or after the cut-off"):
        snapshot_features(tiny_con, AS_OF)


def test_leakage_guard_accepts_the_last_instant_of_the_day_and_rejects_the_next() -> None:
    last_second = datetime(2024, 4, 30, 23, 59, 59, 999999, tzinfo=UTC)
    assert_no_leakage(last_second, AS_OF)
    assert_no_leakage(None, AS_OF)
    with pytest.raises(LeakageError):
        assert_no_leakage(cutoff(AS_OF), AS_OF)


def test_a_datetime_is_not_accepted_as_a_snapshot_date(tiny_con: duckdb.DuckDBPyConnection) -> None:
    # A datetime would silently move the cut-off to as_of + 1 day + its time of day.
    with pytest.raises(TypeError, match="datetime.date"):
        snapshot_features(tiny_con, datetime(2024, 4, 30, 12))


def test_churn_label_is_no_active_action_in_the_horizon_after_the_snapshot() -> None:
    con = duckdb.connect()
    world = make_world(
        [(c, "2024-01-01T00:00:00Z", "free") for c in ("first", "last", "late", "passive", "same_day")],
        [
            ("first", "purchase", "2024-05-01T00:00:00Z", 1.0),  # first instant of the horizon
            ("last", "form_submit", "2024-05-14T23:59:59Z", None),  # last instant of a 14-day horizon
            ("late", "add_to_cart", "2024-05-15T00:00:00Z", None),  # one instant too late
            ("passive", "page_view", "2024-05-03T00:00:00Z", None),  # passive events do not count
            ("same_day", "purchase", "2024-04-30T12:00:00Z", 1.0),  # on D itself: a feature, not a label
        ],
    )
    load_world(con, world)

    labels = label_examples(con, [AS_OF], horizon_days=14).set_index("customer_id")["churned"]

    assert labels.to_dict() == {"first": 0, "last": 0, "late": 1, "passive": 1, "same_day": 1}


def test_label_examples_stack_one_block_per_snapshot(con: duckdb.DuckDBPyConnection) -> None:
    snapshots = [RUN_DATE - timedelta(days=28), RUN_DATE - timedelta(days=21)]

    frame = label_examples(con, snapshots, horizon_days=14)

    assert sorted(frame["snapshot_date"].unique()) == snapshots
    assert not frame.duplicated(["snapshot_date", "customer_id"]).any()
    assert set(frame["churned"].unique()) == {0, 1}
