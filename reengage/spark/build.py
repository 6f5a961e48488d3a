"""What a dbt build on Spark needs around it: the raw rows in, the stages' views out, and a
clean slate after an erasure.

Before dbt starts, the raw tables of the stages' DuckDB file are written as the Parquet files
Spark reads (`raw_export`); after it exits, the views the Python stages read are made again from
the build's manifest (`views`). Both run on `REENGAGE_WAREHOUSE_KIND=spark` only.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from typing import Any

import duckdb

from reengage.spark.layout import spark_layout
from reengage.spark.raw_export import export_raw_tables
from reengage.spark.views import ViewRefresh, refresh_views, stored_tables


def publish_raw(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """The raw tables, whole, where Spark's raw sources read them; the rows written, by table."""
    return export_raw_tables(con, spark_layout().raw)


def refresh_stage_views(con: duckdb.DuckDBPyConnection, manifest: Mapping[str, Any]) -> ViewRefresh:
    """A view per table the build's manifest says Spark stores, and none for anything else."""
    return refresh_views(con, spark_layout(), stored_tables(manifest))


def discard_built_tables() -> list[str]:
    """Delete every table dbt built on Spark, its metastore and the exported raw rows; what went.

    After an erasure: an incremental table keeps rows no rebuild would bring back, so all of them
    go and the next build makes them again from the raw tables, which no longer hold the person.
    The views over them are dropped by that build's refresh; a stage reading one before it fails.
    """
    layout = spark_layout()
    gone = []
    for folder in (layout.warehouse, layout.metastore, layout.raw):
        if folder.exists():
            shutil.rmtree(folder)
            gone.append(str(folder))
    return gone
