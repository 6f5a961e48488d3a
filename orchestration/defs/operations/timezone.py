"""When the daily schedule fires: an hour in a configurable IANA time zone.

Partition keys (run dates) stay UTC dates whatever the zone: the schedule runs the
partition of the UTC date at the moment it fires (see docs/operations.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from orchestration import settings

TIMEZONE_VAR = "REENGAGE_TIMEZONE"
HOUR_VAR = "REENGAGE_SCHEDULE_HOUR"


class ScheduleSettingsError(ValueError):
    """A schedule setting in the environment is not usable; the message names the variable."""


def schedule_timezone(env: Mapping[str, str] | None = None) -> str:
    """The IANA zone the schedule's hour is read in (default UTC), checked against the tz database."""
    env = settings.environment() if env is None else env
    name = env.get(TIMEZONE_VAR, "").strip() or "UTC"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise ScheduleSettingsError(
            f"{TIMEZONE_VAR}={name!r} is not an IANA time zone name "
            "(examples: UTC, Europe/Berlin, America/New_York)"
        ) from err
    return name


def schedule_hour(env: Mapping[str, str] | None = None) -> int:
    """The local hour (0-23) at which the daily run starts (default 6)."""
    env = settings.environment() if env is None else env
    text = env.get(HOUR_VAR, "").strip() or "6"
    try:
        hour = int(text)
    except ValueError as err:
        raise ScheduleSettingsError(f"{HOUR_VAR}={text!r} is not a whole hour from 0 to 23") from err
    if not 0 <= hour <= 23:
        raise ScheduleSettingsError(f"{HOUR_VAR}={text!r} is not a whole hour from 0 to 23")
    return hour
