"""When the daily schedule fires: an hour in a configurable IANA time zone.

Partition keys (run dates) stay UTC dates whatever the zone: the schedule runs the
partition of the UTC date at the moment it fires (see docs/operations.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from reengage import settings

TIMEZONE_SETTING = "schedule.timezone"
HOUR_SETTING = "schedule.hour"
TIMEZONE_VAR = settings.BY_KEY[TIMEZONE_SETTING].env
HOUR_VAR = settings.BY_KEY[HOUR_SETTING].env


class ScheduleSettingsError(ValueError):
    """A schedule setting is not usable; the message names the variable or the file's key."""


def schedule_timezone(env: Mapping[str, str] | None = None) -> str:
    """The IANA zone the schedule's hour is read in (default UTC), checked against the tz database."""
    zone = _resolved(TIMEZONE_SETTING, env)
    name = str(zone.value)
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise ScheduleSettingsError(
            f"{zone.origin}={name!r} is not {settings.BY_KEY[TIMEZONE_SETTING].describe_accepted()}"
        ) from err
    return name


def schedule_hour(env: Mapping[str, str] | None = None) -> int:
    """The local hour (0-23) at which the daily run starts (default 6)."""
    hour = _resolved(HOUR_SETTING, env)
    if not 0 <= int(hour.value) <= 23:  # type: ignore[arg-type]
        raise ScheduleSettingsError(
            f"{hour.origin}={hour.value!r} is not {settings.BY_KEY[HOUR_SETTING].describe_accepted()}"
        )
    return int(hour.value)  # type: ignore[arg-type]


def _resolved(key: str, env: Mapping[str, str] | None) -> settings.Resolved:
    try:
        return settings.resolve(key, env=env)
    except settings.SettingsError as err:
        raise ScheduleSettingsError(str(err)) from None
