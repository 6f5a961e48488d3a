"""Preferred send hour per customer, in the customer's own time zone, from their activity history.

* History: the customer's activity in the ``lookback_days`` UTC days ending on the
  run date D (never after D), converted to local time with the customer's IANA
  time zone (UTC when missing or unknown to the database). What counts is the
  number of distinct local *clock hours* with activity (a date + hour slot), not
  raw events: a burst of 40 page views in one sitting is one signal, not 40.
* Read from the warehouse's rollup `intermediate.int_customer_quarter_hours`
  (events per customer and UTC quarter hour, kept by dbt), not from the events:
  every time zone's offset is a whole number of quarter hours, so a UTC quarter
  hour lies in one local clock hour and the distinct slots are exactly those of
  the events. One time-zone conversion per zone and quarter hour, not per event.
* Per customer: a 24-hour histogram of those slots, smoothed circularly with
  the neighbouring hours (weights 1-2-1, so 23:00 and 00:00 are neighbours);
  the preferred hour is its peak (ties: the earliest hour).
* Fallback: a customer with fewer than ``min_user_slots`` slots gets the peak of
  their segment (each customer with enough history in that segment contributes
  one normalised histogram, so heavy users do not dominate), provided the segment
  has at least ``min_segment_users`` such customers: source ``segment``.
  Otherwise the same over everyone with enough history, or, with nobody to
  learn from, ``default_hour``: source ``default``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd

from reengage.learning.features import fetch_frame
from reengage.learning.tables import replace_run_date
from reengage.schema.declared import PREFERRED_SEND_HOURS

SEND_HOURS_TABLE = PREFERRED_SEND_HOURS.name
# Naive UTC timestamps, as every warehouse timestamp (dbt_project/macros/timestamps.sql).
QUARTER_HOURS_TABLE = "intermediate.int_customer_quarter_hours"
FEATURES_TABLE = "marts.fct_user_features"
SOURCES = ("user", "segment", "default")


@dataclass(frozen=True)
class SendHourConfig:
    lookback_days: int = 90
    min_user_slots: int = 5
    min_segment_users: int = 20
    default_hour: int = 10

    def __post_init__(self) -> None:
        if not 0 <= self.default_hour <= 23:
            raise ValueError(f"default_hour must be 0..23, got {self.default_hour}")
        if self.lookback_days < 1 or self.min_user_slots < 1 or self.min_segment_users < 1:
            raise ValueError(f"invalid send-hour config: {self}")


_SLOTS_SQL = """
with

known_zones as (
    select name from pg_timezone_names()
),

customers as (
    select
        c.customer_id,
        c._pos,
        case when z.name is null then 'UTC' else c.timezone end as tz
    from _send_hour_customers as c
    left join known_zones as z on c.timezone = z.name
),

quarter_hours as (
    select
        c.{key} as customer_key,
        c.tz,
        q.quarter_hour_start
    from {quarter_hours} as q
    inner join customers as c on q.customer_id = c.customer_id
    where q.activity_date >= $first_day and q.activity_date <= $as_of
),

local_slot_of_quarter as (
    -- one time-zone conversion per zone and quarter hour, not per customer or event
    select
        tz,
        quarter_hour_start,
        date_trunc('hour', timezone(tz, timezone('UTC', quarter_hour_start))) as local_slot
    from (select distinct tz, quarter_hour_start from quarter_hours) as distinct_quarters
)

select
    q.customer_key as {key},
    cast(extract(hour from l.local_slot) as tinyint) as local_hour,
    cast(count(distinct l.local_slot) as integer) as slots
from quarter_hours as q
inner join local_slot_of_quarter as l
    on q.tz = l.tz and q.quarter_hour_start = l.quarter_hour_start
group by q.customer_key, local_hour
"""


def activity_slots(
    con: duckdb.DuckDBPyConnection,
    customers: pd.DataFrame,
    as_of: date,
    config: SendHourConfig,
    *,
    quarter_hours_table: str = QUARTER_HOURS_TABLE,
    by_position: bool = False,
) -> pd.DataFrame:
    """customer_id, local_hour (0-23), slots: distinct local clock hours with activity, lookback ending D.

    With `by_position`, rows name the customer by its row number in `customers`
    (`_pos`) instead of its id: at a million customers that keeps tens of
    millions of rows as small integers instead of Python strings.
    """
    frame = customers[["customer_id", "timezone"]].assign(_pos=np.arange(len(customers), dtype=np.int64))
    con.register("_send_hour_customers", frame)
    key = "_pos" if by_position else "customer_id"
    try:
        return fetch_frame(
            con,
            _SLOTS_SQL.format(quarter_hours=quarter_hours_table, key=key),
            _window(as_of, config),
        )
    finally:
        con.unregister("_send_hour_customers")


def slot_inputs(
    as_of: date, config: SendHourConfig, *, quarter_hours_table: str = QUARTER_HOURS_TABLE
) -> tuple[str, dict[str, object]]:
    """The query (sql, params) selecting every rollup row and column `activity_slots` reads.

    For a fingerprint of the send hours' inputs (with the customers' zones and segments).
    """
    return (
        f"select customer_id, quarter_hour_start from {quarter_hours_table} "
        "where activity_date >= $first_day and activity_date <= $as_of",
        _window(as_of, config),
    )


def _window(as_of: date, config: SendHourConfig) -> dict[str, object]:
    """The `lookback_days` UTC days ending D, as the rollup's activity_date bounds."""
    return {"first_day": as_of - timedelta(days=config.lookback_days - 1), "as_of": as_of}


def _smooth(hist: np.ndarray) -> np.ndarray:
    """Circular 1-2-1 smoothing along the hour axis."""
    return 2 * hist + np.roll(hist, 1, axis=-1) + np.roll(hist, -1, axis=-1)


def _peak(hist: np.ndarray) -> np.ndarray:
    """Hour of the maximum; argmax returns the first (earliest) hour on ties."""
    return np.argmax(np.round(_smooth(hist), 9), axis=-1)


def choose_hours(slots: pd.DataFrame, customers: pd.DataFrame, config: SendHourConfig) -> pd.DataFrame:
    """One row per customer of `customers` (customer_id, segment): preferred_local_hour, source, slots.

    `slots` has customer_id (or `_pos`, the row number in `customers`), local_hour,
    slots (see `activity_slots`); customers without rows have no history.
    """
    hist = np.zeros((len(customers), 24), dtype=np.float32)
    if len(slots):
        if "_pos" in slots.columns:
            pos = slots["_pos"].to_numpy(dtype=np.int64)
        else:
            pos = pd.Index(customers["customer_id"]).get_indexer(slots["customer_id"])
        keep = pos >= 0
        np.add.at(
            hist,
            (pos[keep], slots["local_hour"].to_numpy(dtype=np.int64)[keep] % 24),
            slots["slots"].to_numpy(dtype=np.float32)[keep],
        )
    order = np.argsort(customers["customer_id"].to_numpy(dtype=object), kind="stable")
    customers = customers.iloc[order].reset_index(drop=True)
    hist = hist[order]
    total = hist.sum(axis=1)
    has_history = total >= config.min_user_slots

    hour = np.full(len(customers), -1, dtype=np.int64)
    source = np.full(len(customers), "default", dtype=object)
    hour[has_history] = _peak(hist[has_history])
    source[has_history] = "user"

    normalised = np.zeros_like(hist)
    normalised[has_history] = hist[has_history] / total[has_history, None]
    if has_history.any():
        overall = int(_peak(normalised[has_history].sum(axis=0)))
    else:
        overall = config.default_hour
    hour[~has_history] = overall

    segment = (
        customers["segment"].fillna("unknown").astype(str).to_numpy() if "segment" in customers else None
    )
    if segment is not None:
        for name in np.unique(segment[~has_history]):
            members = segment == name
            learners = members & has_history
            if learners.sum() >= config.min_segment_users:
                fallback = members & ~has_history
                hour[fallback] = int(_peak(normalised[learners].sum(axis=0)))
                source[fallback] = "segment"

    return pd.DataFrame(
        {
            "customer_id": customers["customer_id"].astype(object).to_numpy(),
            "preferred_local_hour": hour,
            "source": source,
            "activity_slots": total.astype(np.int64),
        }
    )


def read_customers(con: duckdb.DuckDBPyConnection, table: str = FEATURES_TABLE) -> pd.DataFrame:
    """customer_id, timezone, segment from the user-features mart (one row per customer as of D)."""
    return fetch_frame(con, f"select customer_id, timezone, segment from {table} order by customer_id", {})


def preferred_send_hours(
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    customers: pd.DataFrame,
    config: SendHourConfig | None = None,
    *,
    quarter_hours_table: str = QUARTER_HOURS_TABLE,
) -> pd.DataFrame:
    """Preferred local send hour for every customer in `customers` (customer_id, timezone, segment)."""
    config = config or SendHourConfig()
    slots = activity_slots(
        con, customers, as_of, config, quarter_hours_table=quarter_hours_table, by_position=True
    )
    return choose_hours(slots, customers, config)


def write_send_hours(con: duckdb.DuckDBPyConnection, hours: pd.DataFrame, run_date: date) -> int:
    """Replace `run_date`'s rows of scoring.preferred_send_hours atomically; returns rows written."""
    return replace_run_date(
        con,
        SEND_HOURS_TABLE,
        hours,
        ["customer_id", "preferred_local_hour", "source", "activity_slots"],
        run_date,
    )
