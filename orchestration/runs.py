"""Run the graph from Python: a one-run backfill of the exports, then the daily job for a date.

The demo command and the end-to-end tests both go through here, so they exercise
the same job a schedule starts.
"""

from __future__ import annotations

from datetime import date

import dagster as dg

from orchestration import settings
from orchestration.definitions import build_definitions
from orchestration.defs.delivery.assets import past_dates_allowed
from orchestration.defs.ingest.contracts import SOURCES
from orchestration.defs.operations.landed_exports import scan_day
from orchestration.defs.operations.run_tags import file_tags
from orchestration.partitions import check_run_dates

DAILY_JOB = "daily_reengagement"


def load_history(
    day_from: date, day_to: date, instance: dg.DagsterInstance | None = None, checks: bool = True
) -> dg.ExecuteInProcessResult:
    """Load every export from `day_from` to `day_to` into the raw tables in one run.

    `checks=False` leaves the raw tables' gates out (a set-up step: every validation takes a
    second or two, and the daily run that follows runs them all on its own day). Days outside the
    partitions raise `RunDateOutsideHistory` (one line naming the setting) before anything runs.
    """
    check_run_dates(day_from, day_to)
    defs = build_definitions()
    job = defs.get_implicit_global_asset_job_def().get_subset(
        asset_selection={dg.AssetKey(["raw", s]) for s in SOURCES},
        **({} if checks else {"asset_check_selection": set()}),
    )
    return job.execute_in_process(
        instance=instance or dg.DagsterInstance.ephemeral(),
        tags={
            "dagster/asset_partition_range_start": day_from.isoformat(),
            "dagster/asset_partition_range_end": day_to.isoformat(),
        },
        raise_on_error=False,
    )


def run_day(
    day: date, instance: dg.DagsterInstance | None = None, allow_past_dates: bool = False
) -> dg.ExecuteInProcessResult:
    """The daily job for one run date, exactly as the schedule would start it.

    Delivery refuses a date already past unless `allow_past_dates` says the sends are meant. A day
    outside the partitions raises `RunDateOutsideHistory` (one line naming the setting) before anything runs.
    """
    check_run_dates(day)
    defs = build_definitions()
    job = defs.resolve_job_def(DAILY_JOB)
    # Tagged with the files it consumes, so the exports-landed sensor does not run them again.
    exports = scan_day(settings.landing_dir(), day)
    return job.execute_in_process(
        partition_key=day.isoformat(),
        instance=instance or dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
        tags=file_tags(exports.fingerprint, "run_day"),
        run_config=past_dates_allowed() if allow_past_dates else None,
    )


def failures(result: dg.ExecuteInProcessResult) -> list[str]:
    """Each failed step with its error message, for a readable exit."""
    lines = []
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            error = event.step_failure_data.error
            lines.append(f"{event.step_key}: {error.message.strip() if error else 'failed'}")
    return lines
