"""When a chosen message may go out: the user's preferred hour, inside quiet hours, never in the past.

Computed in DuckDB for all chosen rows at once. DuckDB's ICU `timezone(zone,
ts)` turns a naive local timestamp into an instant (and an instant back into
local wall time) using the tz database, so DST changes are handled by the
same rules as everywhere else; the tests compare against Python's zoneinfo.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SendWindow:
    """Allowed local send hours [start_hour, end_hour) and the hour used when none is known."""

    start_hour: int = 8
    end_hour: int = 20
    default_hour: int = 10

    def __post_init__(self) -> None:
        if not 0 <= self.start_hour < self.end_hour <= 24:
            raise ValueError(f"send window must satisfy 0 <= start < end <= 24, got {self}")
        if not 0 <= self.default_hour <= 23:
            raise ValueError(f"default send hour must be 0-23, got {self.default_hour}")


def preferred_utc_sql(zone: str, preferred_hour: str, run_date: str, window: SendWindow) -> str:
    """SQL (timestamptz) for the preferred (or default) hour clamped into the window on the run date."""
    start, end = window.start_hour, window.end_hour
    hour = f"least(greatest(coalesce({preferred_hour}, {window.default_hour}), {start}), {end - 1})"
    return f"timezone({zone}, cast({run_date} as timestamp) + to_hours(cast({hour} as integer)))"


def scheduled_utc_sql(zone: str, preferred_hour: str, run_date: str, now: str, window: SendWindow) -> str:
    """SQL (timestamptz) for the send instant.

    `zone`, `preferred_hour`, `run_date` and `now` are SQL expressions (a valid
    IANA zone, a nullable hour, a date and a timestamptz). The preferred (or
    default) hour is clamped into the window on the run date; if that instant
    is already before `now`, the next allowed minute after `now` is used.
    """
    start, end = window.start_hour, window.end_hour
    preferred = preferred_utc_sql(zone, preferred_hour, run_date, window)
    now_local = f"timezone({zone}, {now})"
    # Round up to the whole minute so a send never lands (even slightly) before `now`.
    ceil_local = (
        f"(date_trunc('minute', {now_local}) + case when {now_local} > date_trunc('minute', {now_local}) "
        "then interval 1 minute else interval 0 minute end)"
    )
    minute_of_day = f"(hour({ceil_local}) * 60 + minute({ceil_local}))"
    day_start = f"cast(cast({ceil_local} as date) as timestamp)"
    next_local = (
        f"case when {minute_of_day} < {start * 60} then {day_start} + to_hours({start})"
        f" when {minute_of_day} >= {end * 60} then {day_start} + interval 1 day + to_hours({start})"
        f" else {ceil_local} end"
    )
    return f"case when {preferred} >= {now} then {preferred} else timezone({zone}, {next_local}) end"


def local_text_sql(zone: str, instant: str) -> str:
    """SQL text of an instant as local time with offset and zone, RFC 9557 style.

    Example: `2025-03-09T10:00:00-04:00[America/New_York]` - readable by people
    and unambiguous for code, even in the repeated hour after a DST change.
    """
    local = f"timezone({zone}, {instant})"
    offset = f"date_diff('minute', timezone('UTC', {instant}), {local})"
    sign = f"case when {offset} < 0 then '-' else '+' end"
    hh = f"lpad(cast(abs({offset}) // 60 as varchar), 2, '0')"
    mm = f"lpad(cast(abs({offset}) % 60 as varchar), 2, '0')"
    return f"strftime({local}, '%Y-%m-%dT%H:%M:%S') || {sign} || {hh} || ':' || {mm} || '[' || {zone} || ']'"
