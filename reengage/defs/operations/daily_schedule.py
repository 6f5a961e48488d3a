"""The daily run at a fixed local hour: `REENGAGE_SCHEDULE_HOUR` in `REENGAGE_TIMEZONE`.

The run date (partition key) is the UTC date at the moment the schedule fires,
because partitions, ingest days and dbt's day cuts are all UTC. A zone far east of
UTC can therefore run the previous UTC date at an early local hour (06:00 in Tokyo
is 21:00 UTC the day before); docs/operations.md has the table.

When the exports-landed sensor has already started a run on the day's current
files, the schedule skips instead of running the day twice. When a required
export is missing, it still starts the run: ingest fails with "late or lost",
which the run-failure alert reports (the schedule is then the lateness alarm). A day
without any file (a closed day, where every source may lack one) is run here: it is
loaded as empty. A run date before the first day of history is skipped, with the reason.

No `from __future__ import annotations` here: Dagster inspects the schedule's signature.
"""

from datetime import UTC, date, datetime

import dagster as dg

from reengage import settings
from reengage.defs.ingest.contracts import required_sources
from reengage.defs.jobs import daily_reengagement
from reengage.defs.operations.landed_exports import scan_day
from reengage.defs.operations.run_tags import file_tags, run_exists_for_files
from reengage.defs.operations.timezone import schedule_hour, schedule_timezone
from reengage.partitions import RunDateOutsideHistory, check_run_dates

TRIGGER = "schedule"


def run_date_at(fired_at: datetime) -> date:
    """The partition a tick runs: the UTC date of the moment it fires."""
    return fired_at.astimezone(UTC).date()


def build_daily_schedule(timezone: str, hour: int) -> dg.ScheduleDefinition:
    """The schedule firing at `hour`:00 in `timezone` (already validated by timezone.py)."""

    @dg.schedule(
        name="daily_reengagement_schedule",
        job=daily_reengagement,
        cron_schedule=f"0 {hour} * * *",
        execution_timezone=timezone,
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description=f"Runs the day's partition (its UTC date) every day at {hour:02d}:00 {timezone} "
        "(REENGAGE_SCHEDULE_HOUR, REENGAGE_TIMEZONE), unless the exports-landed sensor already ran it on "
        "the same files.",
    )
    def _schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        fired_at = context.scheduled_execution_time or datetime.now(UTC)
        day = run_date_at(fired_at)
        try:
            check_run_dates(day)
        except RunDateOutsideHistory as outside:
            return dg.SkipReason(str(outside))
        exports = scan_day(settings.landing_dir(), day)
        complete = not exports.problems and not exports.missing(required_sources())
        fingerprint = exports.fingerprint if complete else "incomplete"
        if complete and run_exists_for_files(context.instance, day, fingerprint):
            return dg.SkipReason(f"{day}: already run on these exports ({exports.describe()})")
        return dg.RunRequest(
            run_key=f"{day.isoformat()}:scheduled",
            partition_key=day.isoformat(),
            tags=file_tags(fingerprint, TRIGGER),
        )

    return _schedule


daily_reengagement_schedule = build_daily_schedule(schedule_timezone(), schedule_hour())
