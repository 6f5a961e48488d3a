"""`reengage run --date D [--allow-past-dates]`: the daily job for one run date, as the schedule runs it.

It runs in this process against the Dagster instance the UI reads (commands/progress.py), with
a line per step as it ends, then the day's summary (reengage/summary.py) and where the run
is in the UI. Before anything starts it checks the landing folder, the day's required exports
and the warehouse's lock, so those problems are one line (exit 2), not a failed run.
"""

from __future__ import annotations

import argparse

from reengage import runs
from reengage.commands import progress
from reengage.commands.common import FAILED, configured_landing, run_date
from reengage.summary import run_summary


def add_run_parser(commands: argparse._SubParsersAction) -> None:
    run = commands.add_parser(
        "run",
        help="run the daily job for a run date on the configured landing folder",
        description="Ingest, build, check, score, decide, deliver and measure for one run date, exactly "
        "as the schedule runs it; exit 1 when a step fails.",
    )
    run.add_argument("--date", type=run_date, required=True, help="the run date, YYYY-MM-DD (UTC)")
    run.add_argument(
        "--allow-past-dates",
        action="store_true",
        help="let delivery send for a run date already past (it refuses by default, without failing)",
    )


def run_run(args: argparse.Namespace) -> int:
    day = args.date
    landing = configured_landing()
    progress.required_exports(landing, day)
    progress.warehouse_free()
    print(f"Daily job for {day} on {landing}")
    job = runs.daily_job()
    instance = progress.instance()
    log = progress.log_path("run", day.isoformat())
    with progress.watched(instance, job, log, progress.say()) as run_id:
        result = runs.run_day(
            day,
            instance,
            allow_past_dates=args.allow_past_dates,
            run_config=progress.run_config(),
            run_id=run_id,
            retries=False,
        )
    print()
    print(run_summary(day))
    print()
    if not result.success:
        print(f"The daily job for {day} FAILED:")
        for line in runs.failures(result) or ["the run failed before any step ran (see the UI)"]:
            print(f"  {line}")
    else:
        print(f"The daily job for {day} succeeded.")
    print("\n".join(progress.where_to_look([run_id])))
    return 0 if result.success else FAILED
