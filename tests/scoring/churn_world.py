"""Synthetic input tables for the churn tests: a seeded world of users whose activity decays.

The dbt models that produce the real input tables are being written in
parallel, so these fixtures create `intermediate.int_events_stitched` and
`staging.stg_crm__customers` with the contracted columns directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd

ACTIVE_EVENTS = np.array(["add_to_cart", "checkout_started", "purchase", "form_submit"])
WORLD_START = date(2024, 3, 1)
WORLD_DAYS = 70
RUN_DATE = WORLD_START + timedelta(days=WORLD_DAYS - 1)  # 2024-05-09, the last day with events

_SCHEMA_SQL = """
create schema if not exists intermediate;
create schema if not exists staging;
create table intermediate.int_events_stitched (
    event_id varchar, customer_id varchar, anonymous_id varchar, event_name varchar,
    event_ts timestamptz, is_active_action boolean, page varchar, product_id varchar,
    category varchar, value double, device varchar, channel varchar
);
create table staging.stg_crm__customers (
    customer_id varchar, email varchar, signup_at timestamptz, plan varchar,
    lifetime_value double, marketing_consent boolean, timezone varchar, country varchar
);
"""


@dataclass(frozen=True)
class World:
    customers: pd.DataFrame
    events: pd.DataFrame


def synthetic_world(n_users: int = 500, seed: int = 7) -> World:
    """Users sign up, act at a rate that decays with age, wind down for ~10 days, then go quiet.

    Pro users stay longer; quitting is preceded by a slowdown, so the trend
    features carry signal beyond plain recency.
    """
    rng = np.random.default_rng(seed)
    ids = np.array([f"c{i:04d}" for i in range(n_users)])
    plan = rng.choice(["free", "pro", "team"], size=n_users, p=[0.6, 0.3, 0.1])
    signup = rng.integers(-40, WORLD_DAYS - 5, size=n_users)  # day offsets from WORLD_START
    lifetime = rng.exponential(np.where(plan == "free", 25.0, 90.0))
    quit_day = signup + lifetime
    base_rate = rng.lognormal(np.log(0.6), 0.9, size=n_users)
    decay = rng.uniform(40, 120, size=n_users)

    days = np.arange(WORLD_DAYS)
    age = days[None, :] - signup[:, None]
    to_quit = quit_day[:, None] - days[None, :]
    rate = base_rate[:, None] * np.exp(-np.clip(age, 0, None) / decay[:, None])
    rate *= np.clip(to_quit / 10.0, 0.02, 1.0)  # wind-down, then a near-silent tail
    rate[age < 0] = 0.0
    active_n = rng.poisson(rate)
    passive_n = rng.poisson(rate * 2.5)

    rows = []
    for counts, active in ((active_n, True), (passive_n, False)):
        user_idx, day_idx = np.nonzero(counts)
        reps = counts[user_idx, day_idx]
        user_idx, day_idx = np.repeat(user_idx, reps), np.repeat(day_idx, reps)
        n = len(user_idx)
        names = (
            rng.choice(ACTIVE_EVENTS, size=n, p=[0.45, 0.2, 0.15, 0.2])
            if active
            else rng.choice(["page_view", "product_view"], size=n)
        )
        seconds = rng.integers(0, 86_400, size=n)
        rows.append(
            pd.DataFrame(
                {
                    "customer_id": ids[user_idx],
                    "event_name": names,
                    "event_ts": pd.Timestamp(WORLD_START, tz="UTC")
                    + pd.to_timedelta(day_idx, unit="D")
                    + pd.to_timedelta(seconds, unit="s"),
                    "is_active_action": active,
                    "value": np.where(names == "purchase", rng.gamma(2.0, 30.0, size=n).round(2), np.nan),
                }
            )
        )
    events = pd.concat(rows, ignore_index=True)
    anonymous = pd.DataFrame(
        {
            "customer_id": None,
            "event_name": "page_view",
            "event_ts": pd.Timestamp(WORLD_START, tz="UTC")
            + pd.to_timedelta(rng.integers(0, WORLD_DAYS * 86_400, size=500), unit="s"),
            "is_active_action": False,
            "value": np.nan,
        }
    )
    events = pd.concat([events, anonymous], ignore_index=True).sort_values("event_ts", ignore_index=True)
    events.insert(0, "event_id", [f"e{i:07d}" for i in range(len(events))])
    events["anonymous_id"] = "anon-" + events["customer_id"].fillna("x")

    customers = pd.DataFrame(
        {
            "customer_id": ids,
            "email": [f"{i}@example.com" for i in ids],
            "signup_at": pd.Timestamp(WORLD_START, tz="UTC")
            + pd.to_timedelta(signup, unit="D")
            + pd.to_timedelta(rng.integers(0, 86_400, size=n_users), unit="s"),
            "plan": plan,
        }
    )
    return World(customers=customers, events=events)


def load_world(con: duckdb.DuckDBPyConnection, world: World) -> None:
    """Create the two input tables with the contracted columns and fill them from `world`."""
    con.execute(_SCHEMA_SQL)
    append_events(con, world.events)
    con.register("_customers", world.customers)
    con.execute(
        """
        insert into staging.stg_crm__customers
        select customer_id, email, signup_at, plan, 100.0, true, 'UTC', 'US' from _customers
        """
    )
    con.unregister("_customers")


def append_events(con: duckdb.DuckDBPyConnection, events: pd.DataFrame) -> None:
    """Insert events; columns the frame lacks are null."""
    con.register("_events", events)
    cols = set(events.columns)

    def pick(name: str) -> str:
        return name if name in cols else "null"

    con.execute(
        f"""
        insert into intermediate.int_events_stitched
        select {pick("event_id")}, customer_id, {pick("anonymous_id")}, event_name, event_ts,
               is_active_action, null, null, null, {pick("value")}, null, null
        from _events
        """
    )
    con.unregister("_events")


def build_quarter_hours(con: duckdb.DuckDBPyConnection) -> None:
    """intermediate.int_customer_quarter_hours from the events, as dbt builds it (naive UTC quarter hours)."""
    con.execute(
        """
        create or replace table intermediate.int_customer_quarter_hours as
        select
            customer_id,
            cast(timezone('UTC', event_ts) as date) as activity_date,
            time_bucket(interval 15 minutes, timezone('UTC', event_ts)) as quarter_hour_start,
            count(*) as event_count
        from intermediate.int_events_stitched
        where customer_id is not null
        group by all
        """
    )


def make_world(
    customers: list[tuple[str, str, str | None]], events: list[tuple[str | None, str, str, float | None]]
) -> World:
    """A hand-made world.

    Customers are (id, signup_at ISO, plan); events are (customer_id, name, ts ISO, value).
    """
    customer_frame = pd.DataFrame(customers, columns=["customer_id", "signup_at", "plan"])
    customer_frame["signup_at"] = pd.to_datetime(customer_frame["signup_at"], utc=True)
    customer_frame["email"] = customer_frame["customer_id"] + "@example.com"
    event_frame = pd.DataFrame(events, columns=["customer_id", "event_name", "event_ts", "value"])
    event_frame["event_ts"] = pd.to_datetime(event_frame["event_ts"], utc=True, format="ISO8601")
    event_frame["is_active_action"] = event_frame["event_name"].isin(ACTIVE_EVENTS)
    event_frame["value"] = event_frame["value"].astype("float64")
    return World(customers=customer_frame, events=event_frame)


def future_events(customer_ids: list[str], as_of: date, days: int = 20) -> pd.DataFrame:
    """Active and passive events for every customer from the first instant after `as_of` onwards."""
    start = pd.Timestamp(as_of + timedelta(days=1), tz="UTC")
    rows = []
    for offset in range(days):
        for name in ("purchase", "add_to_cart", "page_view"):
            for customer_id in customer_ids:
                rows.append((customer_id, name, start + pd.Timedelta(days=offset), 50.0))
    frame = pd.DataFrame(rows, columns=["customer_id", "event_name", "event_ts", "value"])
    frame["is_active_action"] = frame["event_name"].isin(ACTIVE_EVENTS)
    return frame
