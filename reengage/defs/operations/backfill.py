"""A job for backfilling past run dates: ingest, warehouse, quality and measurement, without delivery.

Backfilling the whole daily job also works (delivery refuses a past date and says so,
without failing the run), but it would recompute scores and decisions nobody will act
on, and it would send if someone set `allow_past_dates`. This job leaves delivery,
interventions and scoring out, so a backfill cannot email anyone.

Ingest and dbt have single-run backfill policies (one run covers the whole range); the
quality summary and the measurement assets run one partition per run, as the asset
backfill daemon plans them.
"""

import dagster as dg

# warehouse_internals: the dbt incremental state; without it a ranged build would leave the
# sessions as the previous build left them.
BACKFILL_GROUPS = ("ingest", "warehouse", "warehouse_internals", "quality", "measurement")

reengagement_backfill = dg.define_asset_job(
    name="reengagement_backfill",
    selection=dg.AssetSelection.groups(*BACKFILL_GROUPS),
    executor_def=dg.in_process_executor,  # DuckDB has one writer
    description="Backfill past run dates: ingest, dbt, quality and measurement. Delivery is not in this "
    "job on purpose (it refuses past dates anyway): a backfill never emails anyone.",
    tags={"dagster/max_retries": 0},
)
