"""Preferred send hour: the user's own peak in local time, else the segment's, else the default."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd
import pytest
from churn_world import build_quarter_hours, load_world, make_world
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reengage.learning.send_hour import (
    SEND_HOURS_TABLE,
    SendHourConfig,
    activity_slots,
    choose_hours,
    preferred_send_hours,
    write_send_hours,
)

CONFIG = SendHourConfig(min_user_slots=3, min_segment_users=2, default_hour=10)


def slots(rows: list[tuple[str, int, int]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["customer_id", "local_hour", "slots"])


def customers(rows: list[tuple[str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["customer_id", "segment"])


def test_a_customer_with_enough_history_gets_their_own_peak_hour() -> None:
    hours = choose_hours(slots([("a", 20, 4), ("a", 9, 1)]), customers([("a", "engaged")]), CONFIG)
    assert hours.to_dict("records") == [
        {"customer_id": "a", "preferred_local_hour": 20, "source": "user", "activity_slots": 5}
    ]


def test_smoothing_wraps_around_midnight_and_ties_go_to_the_earliest_hour() -> None:
    # 23 and 1 support 0 (circular neighbours), which beats the lone 12.
    wrapped = choose_hours(
        slots([("a", 23, 2), ("a", 0, 2), ("a", 1, 2), ("a", 12, 3)]), customers([("a", "x")]), CONFIG
    )
    assert wrapped["preferred_local_hour"].tolist() == [0]
    tie = choose_hours(slots([("b", 8, 3), ("b", 18, 3)]), customers([("b", "x")]), CONFIG)
    assert tie["preferred_local_hour"].tolist() == [8]


def test_little_history_falls_back_to_the_segment_then_to_everyone_then_the_default() -> None:
    history = slots(
        [
            ("e1", 19, 5),
            ("e2", 19, 4),
            ("e3", 20, 5),  # engaged learners: peak 19
            ("d1", 7, 6),  # the only dormant learner: too few for a segment hour
            ("e_new", 3, 1),  # one slot: not enough for their own hour
        ]
    )
    people = customers(
        [
            ("e1", "engaged"),
            ("e2", "engaged"),
            ("e3", "engaged"),
            ("e_new", "engaged"),
            ("d1", "dormant"),
            ("d_new", "dormant"),
            ("x", None),
        ]
    )
    hours = choose_hours(history, people, CONFIG).set_index("customer_id")
    assert hours.loc["e1", "source"] == "user"
    assert (hours.loc["e_new", "preferred_local_hour"], hours.loc["e_new", "source"]) == (19, "segment")
    # dormant has one learner (< min_segment_users): population-wide peak, source default
    assert hours.loc["d_new", "source"] == "default"
    assert hours.loc["x", "source"] == "default"
    assert hours.loc["d_new", "preferred_local_hour"] == hours.loc["x", "preferred_local_hour"] == 19
    assert hours.loc["e_new", "activity_slots"] == 1
    assert hours.loc["d_new", "activity_slots"] == 0
    assert set(hours["source"]) <= {"user", "segment", "default"}


def test_with_nobody_to_learn_from_everyone_gets_the_configured_default() -> None:
    hours = choose_hours(slots([]), customers([("a", "new"), ("b", None)]), CONFIG)
    assert hours["preferred_local_hour"].tolist() == [10, 10]
    assert hours["source"].tolist() == ["default", "default"]


@pytest.fixture
def tz_con(tmp_path):  # noqa: ANN001, ANN201
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    events = []
    # ny: 14:xx UTC in May is 10:xx in New York (EDT); a burst of 5 events in one hour is one slot.
    for day in range(1, 5):
        for minute in range(0, 50, 10):
            events.append(("ny", "page_view", f"2024-05-0{day}T14:{minute:02d}:00Z", None))
    # tokyo: 01:30 UTC = 10:30 JST; bogus zone: treated as UTC.
    for day in range(1, 5):
        events.append(("tk", "page_view", f"2024-05-0{day}T01:30:00Z", None))
        events.append(("bad", "page_view", f"2024-05-0{day}T16:30:00Z", None))
    # after the run date: never read
    for hour in range(10):
        events.append(("ny", "add_to_cart", f"2024-05-06T0{hour}:00:00Z", None))
    world = make_world([(c, "2024-01-01T00:00:00Z", "free") for c in ("ny", "tk", "bad", "quiet")], events)
    load_world(con, world)
    build_quarter_hours(con)
    try:
        yield con
    finally:
        con.close()


def test_hours_are_local_and_only_from_history_up_to_the_run_date(tz_con) -> None:  # noqa: ANN001
    people = pd.DataFrame(
        {
            "customer_id": ["ny", "tk", "bad", "quiet"],
            "timezone": ["America/New_York", "Asia/Tokyo", "Mars/Olympus", None],
            "segment": ["engaged"] * 4,
        }
    )
    as_of = date(2024, 5, 5)
    found = activity_slots(tz_con, people, as_of, CONFIG)
    per_customer = found.groupby("customer_id").agg(hour=("local_hour", "max"), slots=("slots", "sum"))
    assert per_customer.loc["ny"].tolist() == [10, 4]  # 4 days x one slot, none from May 6
    assert per_customer.loc["tk"].tolist() == [10, 4]
    assert per_customer.loc["bad"].tolist() == [16, 4]

    hours = preferred_send_hours(tz_con, as_of, people, CONFIG).set_index("customer_id")
    assert hours.loc["ny"].tolist() == [10, "user", 4]
    assert hours.loc["quiet", "source"] == "segment"

    write_send_hours(tz_con, hours.reset_index(), as_of)
    write_send_hours(tz_con, hours.reset_index(), as_of)
    stored = tz_con.execute(
        f"select customer_id, run_date, preferred_local_hour, source from {SEND_HOURS_TABLE} order by 1"
    ).fetchall()
    assert stored[0] == ("bad", as_of, 16, "user")
    assert len(stored) == 4


# Zones with whole-, half- and three-quarter-hour offsets, and daylight saving in both hemispheres.
ZONES = ["UTC", "America/New_York", "Europe/Berlin", "Asia/Kolkata", "Asia/Kathmandu", "Australia/Adelaide"]
SECONDS_IN_WINDOW = 20 * 24 * 3600
WINDOW_START = datetime(2024, 3, 20, tzinfo=UTC)  # spans the March/April clock changes of every zone above


def local_slots_of_events(events: pd.DataFrame, zones: dict[str, str]) -> dict[tuple[str, int], int]:
    """The meaning, straight from the events: distinct local clock hours (date + hour) per customer, hour."""
    seen: dict[tuple[str, int], set[datetime]] = {}
    for customer_id, ts in zip(events["customer_id"], events["event_ts"], strict=True):
        local = ts.to_pydatetime().astimezone(ZoneInfo(zones[customer_id]))
        seen.setdefault((customer_id, local.hour), set()).add(local.replace(minute=0, second=0, tzinfo=None))
    return {key: len(slots) for key, slots in seen.items()}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(st.tuples(st.integers(0, 3), st.integers(0, SECONDS_IN_WINDOW - 1)), min_size=1, max_size=60),
    st.lists(st.sampled_from(ZONES), min_size=4, max_size=4),
)
def test_slots_read_from_the_quarter_hour_rollup_are_the_distinct_local_clock_hours_of_the_events(
    tmp_path_factory: pytest.TempPathFactory, draws: list[tuple[int, int]], zone_of: list[str]
) -> None:
    # Guards the change of input: send hours are read from dbt's quarter-hour rollup instead of
    # 90 days of events; that is exact only because no zone's local hour changes inside a UTC quarter
    # hour (half- and three-quarter-hour offsets, clock changes). The oracle converts every event.
    customers = [f"c{i}" for i in range(4)]
    zones = dict(zip(customers, zone_of, strict=True))
    events = [
        (customers[c], "page_view", (WINDOW_START + timedelta(seconds=s)).isoformat(), None) for c, s in draws
    ]
    world = make_world([(c, "2024-01-01T00:00:00Z", "free") for c in customers], events)
    with duckdb.connect(str(tmp_path_factory.mktemp("slots") / "w.duckdb")) as con:
        load_world(con, world)
        build_quarter_hours(con)
        people = pd.DataFrame({"customer_id": customers, "timezone": zone_of, "segment": "engaged"})
        found = activity_slots(con, people, date(2024, 4, 10), SendHourConfig(lookback_days=30))
    got = {(r.customer_id, int(r.local_hour)): int(r.slots) for r in found.itertuples()}
    assert got == local_slots_of_events(world.events, zones)
