"""The daily job over the whole graph, and its schedule."""

import os

import dagster as dg

from orchestration.partitions import daily_partitions

# DuckDB lets one process write the warehouse at a time, so the job's steps run in one process.
daily_reengagement = dg.define_asset_job(
    name="daily_reengagement",
    selection=dg.AssetSelection.all(),
    partitions_def=daily_partitions,
    executor_def=dg.in_process_executor,
    description="Ingest, build, check, score, decide, deliver and measure for one run date.",
    tags={"dagster/max_retries": 0},
)

daily_reengagement_schedule = dg.build_schedule_from_partitioned_job(
    daily_reengagement,
    hour_of_day=int(os.environ.get("REENGAGE_SCHEDULE_HOUR", "6")),
    minute_of_hour=0,
    description="Runs the day's partition every morning once the exports have landed.",
)
