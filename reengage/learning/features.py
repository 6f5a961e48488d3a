"""Point-in-time churn features and labels, computed in DuckDB.

Training and scoring call the same `snapshot_features`, so a feature can never
mean one thing when the model learns it and another when it is applied.

The single rule that keeps the model honest is *no leakage*: a snapshot as of
day D sees only events with ``event_ts < D + 1 day`` (UTC). The query that
computes the features also returns the latest event timestamp it read, and
`snapshot_features` refuses to return a frame if that timestamp is past the
cut-off, so a later edit of the SQL that drops the filter fails loudly instead
of silently inflating every metric.

All days are UTC calendar days (`timezone('UTC', ts)`), independent of the
session time zone, so the same warehouse gives the same features everywhere.
Money is summed as DECIMAL: DuckDB's parallel float sums can differ in the last
bit between runs, which would change the training-data fingerprint.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta

import duckdb
import pandas as pd

from reengage.event_catalog import is_purchase_sql, revenue_sql

EVENTS_TABLE = "intermediate.int_events_stitched"
CUSTOMERS_TABLE = "staging.stg_crm__customers"

NUMERIC_FEATURES: tuple[str, ...] = (
    "days_since_last_active",
    "active_actions_7d",
    "active_actions_prior_28d",
    "events_28d",
    "active_days_28d",
    "purchases_90d",
    "revenue_90d",
    "tenure_days",
)
CATEGORICAL_FEATURES: tuple[str, ...] = ("plan",)
FEATURES: tuple[str, ...] = NUMERIC_FEATURES + CATEGORICAL_FEATURES

LABEL = "churned"


class LeakageError(AssertionError):
    """A feature query read an event from after its snapshot's cut-off."""


def cutoff(as_of: date) -> datetime:
    """First instant (UTC) that a snapshot as of `as_of` must not see."""
    _require_date(as_of)
    return datetime.combine(as_of + timedelta(days=1), time(0), tzinfo=UTC)


def _require_date(value: object) -> None:
    # datetime is a subclass of date; a datetime here would silently shift the cut-off.
    if not isinstance(value, date) or isinstance(value, datetime):
        raise TypeError(f"expected a datetime.date, got {type(value).__name__}: {value!r}")


_FEATURES_SQL = """
with

customers as (
    select
        customer_id,
        cast(timezone('UTC', signup_at) as date) as signup_day,
        coalesce(nullif(trim(plan), ''), 'unknown') as plan
    from {customers}
    where customer_id is not null
      and signup_at < $cutoff
),

events as (
    select
        customer_id,
        event_ts,
        cast(timezone('UTC', event_ts) as date) as event_day,
        coalesce(is_active_action, false) as is_active,
        {is_purchase} as is_purchase,
        -- net: a refund or cancellation takes its amount off (reengage/event_catalog.py)
        {revenue} as revenue
    from {events}
    where customer_id is not null
      and event_ts < $cutoff
),

per_customer as (
    select
        customer_id,
        max(event_ts) as max_event_ts,
        max(event_day) filter (where is_active) as last_active_day,
        count(*) filter (where is_active and event_day > $as_of - 7) as active_actions_7d,
        count(*) filter (
            where is_active and event_day > $as_of - 35 and event_day <= $as_of - 7
        ) as active_actions_prior_28d,
        count(*) filter (where event_day > $as_of - 28) as events_28d,
        count(distinct event_day) filter (
            where is_active and event_day > $as_of - 28
        ) as active_days_28d,
        count(*) filter (where is_purchase and event_day > $as_of - 90) as purchases_90d,
        sum(cast(coalesce(revenue, 0) as decimal(18, 4))) filter (
            where event_day > $as_of - 90
        ) as revenue_90d
    from events
    group by customer_id
),

final as (
    select
        c.customer_id,
        greatest($as_of - coalesce(p.last_active_day, c.signup_day), 0) as days_since_last_active,
        coalesce(p.active_actions_7d, 0) as active_actions_7d,
        coalesce(p.active_actions_prior_28d, 0) as active_actions_prior_28d,
        coalesce(p.events_28d, 0) as events_28d,
        coalesce(p.active_days_28d, 0) as active_days_28d,
        coalesce(p.purchases_90d, 0) as purchases_90d,
        greatest(cast(coalesce(p.revenue_90d, 0) as double), 0) as revenue_90d,
        greatest($as_of - c.signup_day, 0) as tenure_days,
        c.plan,
        p.max_event_ts as _max_event_ts_used
    from customers as c
    left join per_customer as p using (customer_id)
)

select * from final
order by customer_id
"""

_INT_COLUMNS = [c for c in NUMERIC_FEATURES if c != "revenue_90d"]


def snapshot_features(
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    *,
    events_table: str = EVENTS_TABLE,
    customers_table: str = CUSTOMERS_TABLE,
) -> pd.DataFrame:
    """One row per customer who signed up by `as_of`, from events before the end of `as_of`.

    Returns `customer_id`, `snapshot_date` and `FEATURES`, sorted by customer_id
    (a stable order keeps training fingerprints reproducible). Windows are whole
    UTC days ending on `as_of`: "7d" is as_of-6..as_of, "prior 28d" the 28 days
    before those 7, matching the at-risk rule (docs/meanings.md, "Dormancy and at risk").
    ``frame.attrs["max_event_ts_used"]`` records the leakage guard's evidence.
    """
    end = cutoff(as_of)
    sql = _FEATURES_SQL.format(
        events=events_table,
        customers=customers_table,
        is_purchase=is_purchase_sql("event_name"),
        revenue=revenue_sql("event_name", "value"),
    )
    frame = fetch_frame(con, sql, {"as_of": as_of, "cutoff": end})

    max_used = _max_timestamp(frame.pop("_max_event_ts_used"))
    assert_no_leakage(max_used, as_of)

    frame["customer_id"] = frame["customer_id"].astype(object)
    frame["plan"] = frame["plan"].astype(object)
    frame["snapshot_date"] = as_of
    frame[_INT_COLUMNS] = frame[_INT_COLUMNS].astype("int64")
    frame["revenue_90d"] = frame["revenue_90d"].astype("float64")
    frame.attrs["max_event_ts_used"] = max_used
    frame.attrs["cutoff"] = end
    return frame[["customer_id", "snapshot_date", *FEATURES]]


def snapshot_inputs(
    as_of: date, *, events_table: str = EVENTS_TABLE, customers_table: str = CUSTOMERS_TABLE
) -> list[tuple[str, dict[str, object]]]:
    """The queries (sql, params) selecting every row and column `snapshot_features(as_of)` reads.

    For a fingerprint of a snapshot's inputs: the same rows give the same features.
    """
    end = cutoff(as_of)
    return [
        (
            f"select customer_id, event_ts, is_active_action, event_name, value from {events_table} "
            "where customer_id is not null and event_ts < $cutoff",
            {"cutoff": end},
        ),
        (
            f"select customer_id, signup_at, plan from {customers_table} "
            "where customer_id is not null and signup_at < $cutoff",
            {"cutoff": end},
        ),
    ]


def fetch_frame(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, object]) -> pd.DataFrame:
    """Run a query into pandas through Arrow.

    DuckDB's own `.df()` trips a pandas 3 deprecation warning on every call;
    the Arrow path is warning-free and keeps timestamps time-zone aware.
    """
    return con.sql(sql, params=params).to_arrow_table().to_pandas()


def _max_timestamp(column: pd.Series) -> datetime | None:
    if column.notna().sum() == 0:
        return None
    value = pd.Timestamp(column.max())
    if value.tzinfo is None:  # DuckDB hands back naive values when the session zone is unset
        value = value.tz_localize("UTC")
    return value.to_pydatetime()


def assert_no_leakage(max_event_ts_used: datetime | None, as_of: date) -> None:
    """Raise `LeakageError` if a snapshot as of `as_of` read an event at or after its cut-off."""
    if max_event_ts_used is not None and max_event_ts_used >= cutoff(as_of):
        raise LeakageError(
            f"features as of {as_of} read an event at {max_event_ts_used.isoformat()}, "
            f"at or after the cut-off {cutoff(as_of).isoformat()}"
        )


_ACTIVE_IN_WINDOW_SQL = """
select distinct customer_id
from {events}
where customer_id is not null
  and is_active_action
  and event_ts >= $start
  and event_ts < $end
"""


def label_examples(
    con: duckdb.DuckDBPyConnection,
    snapshot_dates: Iterable[date],
    horizon_days: int = 14,
    *,
    events_table: str = EVENTS_TABLE,
    customers_table: str = CUSTOMERS_TABLE,
) -> pd.DataFrame:
    """Features per snapshot plus `churned` (1 = no active action in (as_of, as_of + horizon]).

    The caller chooses snapshots whose label window is fully observed (see
    `reengage.learning.churn.plan_snapshots`); a window running past the data would label
    everyone as churned. One query per snapshot keeps each one set-based and
    reuses exactly the scoring-time feature code.
    """
    if horizon_days < 1:
        raise ValueError(f"horizon_days must be >= 1, got {horizon_days}")
    frames = []
    for as_of in sorted(set(snapshot_dates)):
        features = snapshot_features(con, as_of, events_table=events_table, customers_table=customers_table)
        start = cutoff(as_of)
        end = start + timedelta(days=horizon_days)
        active = fetch_frame(
            con, _ACTIVE_IN_WINDOW_SQL.format(events=events_table), {"start": start, "end": end}
        )["customer_id"]
        features[LABEL] = (~features["customer_id"].isin(set(active))).astype("int64")
        frames.append(features)
    if not frames:
        return pd.DataFrame(columns=["customer_id", "snapshot_date", *FEATURES, LABEL])
    return pd.concat(frames, ignore_index=True)
