"""What a dbt build on Spark needs around it: the raw rows in, the stages' views out, the stages'
own tables published after the run, and a clean slate after an erasure.

Before dbt starts, the raw tables of the stages' DuckDB file are written as the Parquet files
Spark reads (`raw_export`); after it exits, the views the Python stages read are made again from
the build's manifest (`views`); once the run's stages are done, their tables are written for
Spark's readers (`stage_export`). All run on `REENGAGE_WAREHOUSE_KIND=spark` only, inside
`one_build_at_a_time` (`lock`), which an erasure's discard takes too.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any

import duckdb

from reengage.spark import lock
from reengage.spark.day_folders import DayExport
from reengage.spark.layout import spark_layout
from reengage.spark.raw_export import export_raw_tables
from reengage.spark.stage_export import export_stage_tables
from reengage.spark.views import ViewRefresh, refresh_views, stored_tables

logger = logging.getLogger(__name__)


def one_build_at_a_time(
    holder: str, say: Callable[[str], None] = logger.info
) -> AbstractContextManager[None]:
    """The Spark home's build lock, from the raw export to the views (see `lock`)."""
    return lock.one_build_at_a_time(spark_layout().home, holder, say)


def describe_exports(what: str, exports: Mapping[str, DayExport]) -> str:
    """A line saying which days of which tables an export (raw or stages) wrote and removed."""
    written = {table: e.days_written for table, e in exports.items() if e.days_written or e.days_removed}
    removed = sum(e.days_removed for e in exports.values())
    if not written:
        return f"{what}: no day changed since the last export"
    tables = ", ".join(f"{table} {days}" for table, days in sorted(written.items()))
    return f"{what}: day(s) written by table: {tables}; {removed} day(s) removed"


def publish_raw(con: duckdb.DuckDBPyConnection) -> str:
    """The raw tables' changed days where Spark's raw sources read them; a line saying what was written."""
    return describe_exports("raw tables for Spark", export_raw_tables(con, spark_layout().raw))


def publish_stages(con: duckdb.DuckDBPyConnection) -> dict[str, DayExport]:
    """The stages' published tables' changed run dates under `<spark home>/stages/`; what each export did."""
    return export_stage_tables(con, spark_layout().stages)


def refresh_stage_views(con: duckdb.DuckDBPyConnection, manifest: Mapping[str, Any]) -> ViewRefresh:
    """A view per table the build's manifest says Spark stores, and none for anything else."""
    return refresh_views(con, spark_layout(), stored_tables(manifest))


def discard_built_tables() -> list[str]:
    """Delete every table dbt built on Spark, its metastore, the exported raw rows and the published
    stage tables; what went.

    After an erasure: an incremental table keeps rows no rebuild would bring back, so all of them
    go and the next build makes them again from the raw tables, which no longer hold the person;
    the next daily run publishes the stage tables again from the erased ones.
    The views over them are dropped by that build's refresh; a stage reading one before it fails.
    """
    layout = spark_layout()
    gone = []
    with one_build_at_a_time("an erasure"):  # never under a build's Spark
        for folder in (layout.warehouse, layout.metastore, layout.raw, layout.stages):
            if folder.exists():
                shutil.rmtree(folder)
                gone.append(str(folder))
    return gone
