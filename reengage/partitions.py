"""The run-date partitions every daily asset, job, schedule and sensor shares, from the data's own dates.

The first partition is the first day of history: the setting `first_day` when set, else the
earliest export in the landing folder (any source, any year), else today. It is read once, when
the code location loads: Dagster shows and checks partitions from the definitions it loaded, so
every asset, the daily and backfill jobs, the schedules and the sensor use this one object. Exports
older than the first partition that land later appear after the code location is reloaded (or
name them with `first_day`).

A run date outside the partitions is refused by `check_run_dates` with one line naming the
setting, before anything runs.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import dagster as dg

from reengage import settings
from reengage.defs.ingest.contracts import SOURCES
from reengage.defs.operations.landed_exports import export_days


class RunDateOutsideHistory(ValueError):
    """A run date before the first day of history (or after today's): one line, nothing ran."""


def earliest_export_day(landing: str) -> date | None:
    """The earliest day any source's export in `landing` is named for, or None without any."""
    return min((day for source in SOURCES for day in export_days(landing, source)), default=None)


def history_start() -> date:
    """The first day of history: `first_day`, else the earliest export landed, else today (UTC)."""
    configured = settings.first_day().value
    if isinstance(configured, date):
        return configured
    return earliest_export_day(settings.landing_dir()) or datetime.now(UTC).date()


# end_offset=1 makes today's partition materializable: the daily run for D runs on D.
# Partition keys are UTC dates (Dagster's default zone, stated here on purpose): ingest days,
# dbt's day cuts and the send ledger all count in UTC. REENGAGE_TIMEZONE moves only the hour the
# schedule fires (defs/operations/daily_schedule.py), never what a run date means.
daily_partitions = dg.DailyPartitionsDefinition(
    start_date=history_start().isoformat(), end_offset=1, timezone="UTC"
)


def first_partition_day() -> date:
    return date.fromisoformat(daily_partitions.get_first_partition_key())


def check_run_dates(first: date, last: date | None = None) -> None:
    """Refuse run dates outside the partitions, with one line naming the setting that decides them."""
    last = last or first
    start = first_partition_day()
    newest = daily_partitions.get_last_partition_key()
    if first < start:
        where = settings.first_day().origin
        decided = (
            f"the setting first_day ({where})"
            if where != "default"
            else f"the earliest export in {settings.landing_dir()} (setting first_day unset)"
        )
        raise RunDateOutsideHistory(
            f"{first} is before the first day of history, {start}, which {decided} decides: set first_day "
            f"(reengage.toml, or {settings.BY_KEY['first_day'].env}) to {first} or earlier, then reload the "
            "code location; nothing ran"
        )
    if newest is not None and last > date.fromisoformat(newest):
        raise RunDateOutsideHistory(
            f"{last} is after today's run date {newest} (UTC): a day runs on or after its date; nothing ran"
        )
