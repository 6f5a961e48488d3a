"""On warehouse kind spark, the daily job's last step: the stages' tables of the run, for Spark's readers.

Only on `REENGAGE_WAREHOUSE_KIND=spark`: on the other kinds the stages' tables already are the
warehouse's (DuckDB's or PostgreSQL's), and there is no Spark home to write to. What is written,
where and why some tables are not: `reengage/spark/stage_export.py`.
"""

import dagster as dg

from reengage import settings
from reengage.partitions import daily_partitions
from reengage.spark import build as spark_build
from reengage.warehouse import WarehouseResource

STAGE_TABLES_KEY = dg.AssetKey(["spark", "stage_tables"])
# The steps that write the published tables: the step runs once all of them have, each day.
WRITERS = [
    dg.AssetKey([name])
    for name in (
        "churn_scores",
        "preferred_send_hours",
        "behaviour_clusters",
        "uplift_scores",
        "intervention_list",
        "campaign_results",
        "campaign_measurement",
        "targeting_estimates",
    )
]


def stage_tables_asset() -> dg.AssetsDefinition:
    @dg.asset(
        key=STAGE_TABLES_KEY,
        partitions_def=daily_partitions,
        group_name="warehouse",
        kinds={"spark", "parquet"},
        deps=WRITERS,
    )
    def stage_tables(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
        """The stages' scores, decisions and measurements as Parquet by run date under the Spark home."""
        # The lock an erasure's discard takes too: rows read before an erasure are never written after it.
        with spark_build.one_build_at_a_time(f"run {context.run.run_id}", context.log.info):
            with warehouse.connect(read_only=True) as con:
                exports = spark_build.publish_stages(con)
        context.log.info(spark_build.describe_exports("stage tables for Spark", exports))
        return dg.MaterializeResult(
            metadata={
                "rows_by_table": {table: e.rows for table, e in exports.items()},
                "run_dates_written": sum(e.days_written for e in exports.values()),
                "run_dates_removed": sum(e.days_removed for e in exports.values()),
            }
        )

    return stage_tables


@dg.definitions
def spark_stage_tables() -> dg.Definitions:
    if settings.warehouse_kind() != "spark":
        return dg.Definitions()
    return dg.Definitions(assets=[stage_tables_asset()])
