"""Run the graph from Python: a one-run backfill of the exports, then the daily job for a date.

The demo command and the end-to-end tests both go through here, so they exercise
the same job a schedule starts.
"""

from __future__ import annotations

import re
from datetime import date

import dagster as dg
from dagster._core.definitions.reconstruct import ReconstructableJob
from dagster._core.execution.api import execute_run
from dagster._core.utils import make_new_run_id

from reengage import settings
from reengage.definitions import build_definitions
from reengage.defs.delivery.assets import past_dates_allowed
from reengage.defs.ingest.contracts import SOURCES
from reengage.defs.operations.backfill import reengagement_backfill
from reengage.defs.operations.landed_exports import scan_day
from reengage.defs.operations.run_tags import file_tags
from reengage.partitions import check_run_dates

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
    day: date,
    instance: dg.DagsterInstance | None = None,
    allow_past_dates: bool = False,
    run_config: dict | None = None,
    run_id: str | None = None,
    retries: bool = True,
) -> dg.ExecuteInProcessResult | dg.JobExecutionResult:
    """The daily job for one run date, exactly as the schedule would start it.

    Delivery refuses a date already past unless `allow_past_dates` says the sends are meant. A day
    outside the partitions raises `RunDateOutsideHistory` (one line naming the setting) before anything runs.
    `run_config` adds to the job's (the command line turns Dagster's console log down);
    `retries=False` runs each step once (`run_once`); it needs a persistent `instance`.
    """
    check_run_dates(day)
    # Tagged with the files it consumes, so the exports-landed sensor does not run them again.
    exports = scan_day(settings.landing_dir(), day)
    tags = file_tags(exports.fingerprint, "run_day")
    config = {**(past_dates_allowed() if allow_past_dates else {}), **(run_config or {})}
    if not retries:
        tags = {**tags, "dagster/partition": day.isoformat()}
        return run_once(dg.reconstructable(daily_job), instance, tags, config, run_id)
    return daily_job().execute_in_process(
        partition_key=day.isoformat(),
        instance=instance or dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
        tags=tags,
        run_config=config or None,
        run_id=run_id,
    )


def daily_job() -> dg.JobDefinition:
    return build_definitions().resolve_job_def(DAILY_JOB)


def backfill_job() -> dg.JobDefinition:
    return build_definitions().resolve_job_def(reengagement_backfill.name)


# The steps' retry policies (defs/operations/retries.py) wait out a lost lock or a dropped
# connection. A person at a terminal wants the failure at once instead: the retry would wait a
# minute to fail the same way on a data problem, and they can run the command again.
NO_STEP_RETRIES = {"execution": {"config": {"retries": {"disabled": {}}}}}


def run_once(
    job: ReconstructableJob,
    instance: dg.DagsterInstance | None,
    tags: dict[str, str],
    run_config: dict | None = None,
    run_id: str | None = None,
) -> dg.JobExecutionResult:
    """Run `job` (a `dg.reconstructable` job, or a subset of one) with every step tried once.

    `execute_in_process` cannot do this: it always runs with retries on, whatever the run config
    says. Here the run is created in `instance` (persistent: the UI shows it) under `run_id` and
    executed by the job's own executor, configured not to retry.
    """
    if instance is None:
        raise ValueError("a run without retries needs a persistent Dagster instance")
    definition = job.get_definition()
    run = instance.create_run_for_job(
        job_def=definition,
        run_id=run_id or make_new_run_id(),
        run_config={**(run_config or {}), **NO_STEP_RETRIES},
        tags=tags,
        job_code_origin=job.get_python_origin(),
        asset_selection=job.asset_selection,
    )
    return execute_run(job, run, instance)


def failures(result: dg.ExecuteInProcessResult | dg.JobExecutionResult) -> list[str]:
    """Each failed step with the first line of its reason, for a readable exit.

    The reason is a `Failure`'s description, else the error the step raised: the innermost
    cause, since Dagster wraps it (in "RetryRequested but retries are disabled", for one).
    """
    lines = []
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            data = event.step_failure_data
            user = data.user_failure_data
            error = data.error
            while error is not None and error.cause is not None:
                error = error.cause
            reason = (user.description if user and user.description else None) or (
                error.message if error else ""
            )
            lines.append(f"{event.step_key}: {_first_line(reason)}")
    return lines


def _first_line(reason: str) -> str:
    """A failure's first line, without Dagster's class path, with what a line ending in ":" names."""
    lines = [line.strip() for line in reason.strip().splitlines() if line.strip()]
    if not lines:
        return "failed"
    first = re.sub(r"^dagster[\w.]*\.(\w+Error): ", "", lines[0])  # its module path tells a reader nothing
    if first.endswith(":") and len(lines) > 1:
        # "1 blocking asset check failed with ERROR severity:" names the checks on the lines after it.
        first = f"{first} {'; '.join(lines[1:4])}"
    return first
