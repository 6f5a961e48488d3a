"""The Python stages' own tables, also as Parquet by run date, for readers on the Spark side.

On `REENGAGE_WAREHOUSE_KIND=spark` the stages keep their tables in the DuckDB file, where a run
date's rows are replaced in one transaction with their bookkeeping; after each daily run their
rows are also written under `<spark home>/stages/<schema>/<table>/run_date=YYYY-MM-DD/`, so a
Spark job, a notebook or a team's own dbt models read the scores, decisions and measurements
with the marts, partitioned by run date (`day_folders`: only the changed days written, each
swapped in whole). A run date's folder is that run date's rows as the stage last wrote them.

Published: every table listed in `PUBLISHED`, the stages' outputs keyed by customer id, never a
contact: `interventions.intervention_list` (addresses, phone numbers and message content) and
`delivery.campaign_sends` (providers' error text) stay in the DuckDB file, as do the privacy and
operations tables. An erasure discards the whole folder with the rest of the Spark home; the
next daily run writes every day again from the erased tables.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from reengage.schema.declared import (
    ASSIGNMENT_OUTCOMES,
    BEHAVIOUR_CLUSTERS,
    CAMPAIGN_CHANNELS,
    CAMPAIGN_COMPARISONS,
    CAMPAIGN_DAILY,
    CAMPAIGN_GUARDRAILS,
    CAMPAIGN_RESULTS,
    CAMPAIGN_SETTINGS,
    CAMPAIGN_SRM,
    CAMPAIGN_SUMMARY,
    CHURN_SCORES,
    DECISIONS,
    GUARDRAIL_METRICS,
    PREFERRED_SEND_HOURS,
    TARGETING_ESTIMATES,
    UPLIFT_SCORES,
    Table,
)
from reengage.spark.day_folders import DayExport, DayFolders, export_by_day

DAY_COLUMN = "run_date"
PUBLISHED: tuple[Table, ...] = (
    CHURN_SCORES,
    PREFERRED_SEND_HOURS,
    BEHAVIOUR_CLUSTERS,
    UPLIFT_SCORES,
    DECISIONS,
    CAMPAIGN_RESULTS,
    ASSIGNMENT_OUTCOMES,
    CAMPAIGN_SUMMARY,
    CAMPAIGN_COMPARISONS,
    CAMPAIGN_SRM,
    CAMPAIGN_GUARDRAILS,
    GUARDRAIL_METRICS,
    CAMPAIGN_DAILY,
    CAMPAIGN_CHANNELS,
    CAMPAIGN_SETTINGS,
    TARGETING_ESTIMATES,
)


def stage_table_folder(stages_dir: Path, table: Table) -> Path:
    """`<stages_dir>/<schema>/<table>/`: where one published table's run dates are."""
    schema, name = table.name.split(".")
    return stages_dir / schema / name


def export_stage_tables(con: duckdb.DuckDBPyConnection, stages_dir: Path) -> dict[str, DayExport]:
    """Every published table under its folder, by run date; what each export did, by schema.table."""
    folders = {table.name: stage_table_folder(stages_dir, table) for table in PUBLISHED}
    return {name: export_by_day(con, DayFolders(name, DAY_COLUMN, path)) for name, path in folders.items()}
