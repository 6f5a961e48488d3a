"""The daily job over the whole graph (its schedule and sensor are in defs/operations/)."""

import dagster as dg

from reengage.partitions import daily_partitions
from reengage.warehouse import job_executor

# DuckDB lets one process write the warehouse file at a time, so there the job's steps run in one
# process; on PostgreSQL (REENGAGE_WAREHOUSE_KIND=postgres) each step gets its own (job_executor).
# No run-level retries: a failed step is retried by its own RetryPolicy (defs/operations/retries.py)
# and a re-executed run repeats delivery only through the send ledger.
daily_reengagement = dg.define_asset_job(
    name="daily_reengagement",
    selection=dg.AssetSelection.all(),
    partitions_def=daily_partitions,
    executor_def=job_executor(),
    description="Ingest, build, check, score, decide, deliver and measure for one run date.",
    tags={"dagster/max_retries": 0},
)
