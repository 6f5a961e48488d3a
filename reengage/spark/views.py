"""The tables dbt built on Spark, as DuckDB views in the Python stages' warehouse file.

On `REENGAGE_WAREHOUSE_KIND=spark` the Python stages keep their own tables (raw, scoring,
interventions, delivery, measurement, privacy, operations) in the DuckDB file, as on `duckdb`, and
read what dbt built through one view per table: `marts.fct_user_features` is
`select * from read_parquet('<spark home>/warehouse/marts.db/fct_user_features/*.parquet')`. The
same SQL then runs on either kind, and Great Expectations, which opens the file itself, sees the
views too.

A view reads the files when it is queried, so a day Spark adds is seen at once. What a view cannot
follow is a model added, removed or given new columns, so the views are refreshed after every dbt
build from that build's manifest: one per table, incremental model, seed and snapshot (dbt's
own views live only in Spark's metastore and hold no files; no stage reads them), and a view whose
table has no file yet, or whose model is gone, is dropped, so a stage reading it fails with
"does not exist" rather than reading stale rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import duckdb

from reengage.spark.layout import SparkLayout, sql_path
from reengage.spark.parquet_tables import MissingSparkTable, table_scan
from reengage.tables import transaction

# The materializations dbt keeps as tables (as files on Spark; its views are metastore entries only).
STORED = frozenset({"table", "incremental", "seed", "snapshot"})


class SparkViewError(RuntimeError):
    """A view cannot be made: the file holds a real table of that name (a DuckDB-built warehouse)."""


@dataclass(frozen=True)
class SparkTable:
    """One table dbt built on Spark: where the stages find it, and its day column if stored by day."""

    schema: str
    name: str
    day_column: str | None = None

    @property
    def qualified(self) -> str:
        return f'"{self.schema}"."{self.name}"'


@dataclass(frozen=True)
class ViewRefresh:
    """What a refresh did, for the build's metadata."""

    made: tuple[str, ...]
    dropped: tuple[str, ...]


def stored_tables(manifest: Mapping[str, Any]) -> list[SparkTable]:
    """Every model, seed and snapshot of the manifest that Spark stores as files."""
    tables = []
    for node in manifest.get("nodes", {}).values():
        config = node.get("config", {})
        if node.get("resource_type") not in ("model", "seed", "snapshot"):
            continue
        if config.get("materialized") not in STORED:
            continue
        day = (config.get("meta") or {}).get("day_partition")
        tables.append(SparkTable(node["schema"], node.get("alias") or node["name"], day))
    return sorted(tables, key=lambda t: (t.schema, t.name))


def refresh_views(
    con: duckdb.DuckDBPyConnection, layout: SparkLayout, tables: Iterable[SparkTable]
) -> ViewRefresh:
    """Make or replace a view over each table's Parquet files, and drop the views left over, at once."""
    tables = list(tables)
    wanted = {(t.schema, t.name) for t in tables}
    schemas = sorted({t.schema for t in tables})
    made, dropped = [], []
    with transaction(con):
        _refuse_real_tables(con, wanted)
        for schema in schemas:
            con.execute(f'create schema if not exists "{schema}"')
        for table in tables:
            try:
                scan = table_scan(layout, table.schema, table.name, table.day_column)
            except MissingSparkTable:
                con.execute(f"drop view if exists {table.qualified}")
                continue
            con.execute(f"create or replace view {table.qualified} as select * from {scan}")
            made.append(f"{table.schema}.{table.name}")
        for schema, name in _spark_views(con, layout):
            if (schema, name) not in wanted:
                con.execute(f'drop view "{schema}"."{name}"')
                dropped.append(f"{schema}.{name}")
    return ViewRefresh(tuple(made), tuple(dropped))


def _spark_views(con: duckdb.DuckDBPyConnection, layout: SparkLayout) -> list[tuple[str, str]]:
    """The views of this file that read the Spark home's tables (the stages make no others)."""
    return con.execute(
        "select schema_name, view_name from duckdb_views() "
        "where not internal and database_name = current_database() and contains(sql, ?)",
        [sql_path(layout.warehouse)],  # as the views' SQL holds it
    ).fetchall()


def _refuse_real_tables(con: duckdb.DuckDBPyConnection, wanted: set[tuple[str, str]]) -> None:
    rows = con.execute(
        "select schema_name, table_name from duckdb_tables() where database_name = current_database()"
    ).fetchall()
    clash = sorted(f"{schema}.{name}" for schema, name in rows if (schema, name) in wanted)
    if clash:
        raise SparkViewError(
            f"{len(clash)} table(s) dbt builds on Spark are real tables in this DuckDB file "
            f"({', '.join(clash[:3])}{', ...' if len(clash) > 3 else ''}): it was built with "
            "REENGAGE_WAREHOUSE_KIND=duckdb. Give the Spark warehouse a file of its own "
            "(REENGAGE_WAREHOUSE), so no DuckDB-built table is read in place of Spark's."
        )
