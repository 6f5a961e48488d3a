"""Quiet hours: messages go out at the user's preferred hour, in their own timezone, never at night."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import duckdb
import pytest

from reengage.defs.interventions.policy import PolicyConfig, run_policy
from reengage.defs.interventions.scheduling import SendWindow, local_text_sql, scheduled_utc_sql

from .conftest import make_campaign, user, write_features, write_responses, write_suppressions

NO_GLOBAL = PolicyConfig(global_holdout_share=0.0)


DEFAULT_WINDOW = SendWindow()


def schedule(
    zone: str, hour: int | None, run_date: date, now: datetime, window: SendWindow = DEFAULT_WINDOW
) -> datetime:
    con = duckdb.connect()
    con.execute("set timezone = 'UTC'")
    instant = scheduled_utc_sql("zone", "hour", "run_date", "now", window)
    return con.execute(
        f"select {instant} from (select ?::varchar as zone, ?::integer as hour, ?::date as run_date,"
        " ?::timestamptz as now)",
        [zone, hour, run_date, now],
    ).fetchone()[0]


def expected(zone: str, run_date: date, hour: int) -> datetime:
    return datetime(run_date.year, run_date.month, run_date.day, hour, tzinfo=ZoneInfo(zone)).astimezone(UTC)


# Dates around DST changes: New York springs forward on 2025-03-09, London on 2025-03-30,
# Sydney falls back on 2025-04-06, Los Angeles falls back on 2025-11-02.
CASES = [
    ("America/New_York", date(2025, 3, 8), None, 10),
    ("America/New_York", date(2025, 3, 9), None, 10),
    ("America/New_York", date(2025, 3, 10), 18, 18),
    ("Europe/London", date(2025, 3, 29), 9, 9),
    ("Europe/London", date(2025, 3, 30), 9, 9),
    ("Australia/Sydney", date(2025, 4, 5), 10, 10),
    ("Australia/Sydney", date(2025, 4, 6), 10, 10),
    ("America/Los_Angeles", date(2025, 11, 2), 8, 8),
    ("Asia/Kolkata", date(2025, 3, 9), 22, 19),  # late preference moved to the last allowed hour
    ("Asia/Kathmandu", date(2025, 3, 9), 3, 8),  # night-owl preference moved to the window start
    ("Pacific/Chatham", date(2025, 4, 6), 12, 12),  # +13:45 / +12:45 offsets
    ("UTC", date(2025, 3, 9), 0, 8),
]


@pytest.mark.parametrize(("zone", "run_date", "preferred", "local_hour"), CASES)
def test_the_send_time_is_the_preferred_local_hour_inside_the_window_across_dst(
    zone: str, run_date: date, preferred: int | None, local_hour: int
) -> None:
    early = datetime(2025, 1, 1, tzinfo=UTC)
    got = schedule(zone, preferred, run_date, early)
    assert got == expected(zone, run_date, local_hour)
    assert 8 <= got.astimezone(ZoneInfo(zone)).hour < 20


def test_a_passed_slot_moves_to_the_next_allowed_minute_or_the_next_morning() -> None:
    zone, day = "America/New_York", date(2025, 3, 9)
    # 16:30:15 UTC is 12:30:15 EDT: inside the window, so send at the next whole minute.
    assert schedule(zone, 10, day, datetime(2025, 3, 9, 16, 30, 15, tzinfo=UTC)) == datetime(
        2025, 3, 9, 16, 31, tzinfo=UTC
    )
    # 01:00 UTC on the 10th is 21:00 EDT on the 9th: after quiet hours begin, so 08:00 the next day.
    assert schedule(zone, 10, day, datetime(2025, 3, 10, 1, 0, tzinfo=UTC)) == expected(
        zone, date(2025, 3, 10), 8
    )
    # 10:00 UTC is 06:00 EDT: before the window, and before the preferred 10:00, which is kept.
    assert schedule(zone, 10, day, datetime(2025, 3, 9, 10, 0, tzinfo=UTC)) == expected(zone, day, 10)
    # 12:30 UTC is 08:30 EDT: the preferred 07:00 became 08:00 and has passed, so right away.
    assert schedule(zone, 7, day, datetime(2025, 3, 9, 12, 30, tzinfo=UTC)) == datetime(
        2025, 3, 9, 12, 30, tzinfo=UTC
    )


def test_the_window_is_configurable() -> None:
    window = SendWindow(start_hour=9, end_hour=17, default_hour=12)
    assert schedule(
        "Europe/Berlin", None, date(2025, 6, 1), datetime(2025, 1, 1, tzinfo=UTC), window
    ) == expected("Europe/Berlin", date(2025, 6, 1), 12)
    assert schedule(
        "Europe/Berlin", 20, date(2025, 6, 1), datetime(2025, 1, 1, tzinfo=UTC), window
    ) == expected("Europe/Berlin", date(2025, 6, 1), 16)
    with pytest.raises(ValueError):
        SendWindow(start_hour=20, end_hour=8)


def test_the_local_time_text_carries_offset_and_zone() -> None:
    con = duckdb.connect()
    con.execute("set timezone = 'UTC'")
    text = con.execute(
        f"select {local_text_sql('zone', 'instant')}"
        " from (select ?::varchar as zone, ?::timestamptz as instant)",
        ["America/New_York", datetime(2025, 3, 9, 14, tzinfo=UTC)],
    ).fetchone()[0]
    assert text == "2025-03-09T10:00:00-04:00[America/New_York]"
    assert datetime.fromisoformat(text.split("[")[0]) == datetime(2025, 3, 9, 14, tzinfo=UTC)


def test_the_intervention_list_schedules_every_user_in_their_own_timezone() -> None:
    con = duckdb.connect()
    write_suppressions(con)
    write_responses(con)
    zones = [
        "America/New_York",
        "Europe/London",
        "Australia/Sydney",
        "Asia/Kolkata",
        "america/chicago",
        "Mars/Base",
    ]
    write_features(
        con,
        [
            user(f"u{i}", timezone=zone, preferred_local_hour=[None, 6, 12, 23][i % 4])
            for i, zone in enumerate(zones)
        ],
        as_of=date(2025, 3, 30),
    )
    run_date = date(2025, 3, 30)  # London changes to BST this morning
    run_policy(con, run_date, [make_campaign("c")], NO_GLOBAL, datetime(2025, 3, 29, tzinfo=UTC))
    rows = con.execute(
        "select customer_id, timezone, scheduled_send_at_utc, scheduled_send_at_local"
        " from interventions.intervention_list order by customer_id"
    ).fetchall()
    resolved = {c: tz for c, tz, _, _ in rows}
    assert resolved["u4"] == "America/Chicago"  # matched case-insensitively to the canonical name
    assert resolved["u5"] == "UTC"  # unknown zone: the configured default, never a crash
    for customer, zone, at_utc, at_local in rows:
        local = at_utc.astimezone(ZoneInfo(zone))
        assert 8 <= local.hour < 20 and local.date() == run_date, (customer, local)
        assert datetime.fromisoformat(at_local.split("[")[0]) == at_utc
        assert at_local.endswith(f"[{zone}]")
    assert {c: at.astimezone(ZoneInfo(z)).hour for c, z, at, _ in rows} == {
        "u0": 10,  # no preference: the default hour
        "u1": 8,  # 06:00 is too early
        "u2": 12,
        "u3": 19,  # 23:00 is too late
        "u4": 10,
        "u5": 8,
    }


def test_a_run_late_in_the_day_never_schedules_in_the_past() -> None:
    con = duckdb.connect()
    write_suppressions(con)
    write_responses(con)
    zones = ["Pacific/Auckland", "Asia/Tokyo", "Europe/Paris", "America/Sao_Paulo", "Pacific/Honolulu"]
    write_features(
        con, [user(f"u{i}", timezone=zone) for i, zone in enumerate(zones)], as_of=date(2025, 7, 1)
    )
    now = datetime(2025, 7, 1, 15, 7, 30, tzinfo=UTC)
    run_policy(con, date(2025, 7, 1), [make_campaign("c")], NO_GLOBAL, now)
    for zone, at in con.execute(
        "select timezone, scheduled_send_at_utc from interventions.intervention_list"
    ).fetchall():
        assert now <= at < now + timedelta(days=1)
        assert 8 <= at.astimezone(ZoneInfo(zone)).hour < 20


def test_the_scoring_models_preferred_hour_wins_over_the_features_hour_when_present() -> None:
    con = duckdb.connect()
    write_suppressions(con)
    write_responses(con)
    write_features(
        con,
        [
            user("scored", timezone="Europe/Berlin", preferred_local_hour=12),
            user("unscored", timezone="Europe/Berlin", preferred_local_hour=12),
            user("nonsense", timezone="Europe/Berlin", preferred_local_hour=12),
            user("null", timezone="Europe/Berlin", preferred_local_hour=None),
        ],
        as_of=date(2025, 3, 30),
    )
    run_date, now = date(2025, 3, 30), datetime(2025, 3, 29, tzinfo=UTC)  # Berlin changes to CEST

    def hours() -> dict[str, int]:
        run_policy(con, run_date, [make_campaign("c")], NO_GLOBAL, now)
        rows = con.execute(
            "select customer_id, scheduled_send_at_utc from interventions.intervention_list"
        ).fetchall()
        return {c: at.astimezone(ZoneInfo("Europe/Berlin")).hour for c, at in rows}

    fallback = {"scored": 12, "unscored": 12, "nonsense": 12, "null": 10}
    assert hours() == fallback  # no scoring table: the features' hour
    # The send-hour model's own table (the policy's run migrated it in); an older day's hour is superseded.
    con.execute(
        "insert into scoring.preferred_send_hours by name select * from (values"
        " ('scored', 16, date '2025-03-29'), ('scored', 7, date '2025-03-20'),"
        " ('nonsense', 31, date '2025-03-29'), ('null', 9, date '2025-03-29'),"
        " ('future', 3, date '2025-04-01')"
        ") t(customer_id, preferred_local_hour, run_date), (select 'model' as source, 1 as activity_slots)"
    )
    assert hours() == {"scored": 16, "unscored": 12, "nonsense": 12, "null": 9}
    # Quiet hours still apply to the model's hour.
    con.execute(
        "update scoring.preferred_send_hours set preferred_local_hour = 22 where customer_id = 'scored'"
    )
    assert hours()["scored"] == 19
