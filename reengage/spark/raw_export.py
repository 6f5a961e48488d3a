"""The raw tables of a DuckDB warehouse as the Parquet files the Spark warehouse reads, by load day.

Spark reads `raw.<table>` as an external Parquet table over `<spark home>/raw/<table>/`,
partitioned by the day ingest loaded a row for, `_partition_date` (registered before every dbt
run, dbt_project/macros/spark/raw_sources.sql), so a build of a few days reads only their
folders. Until ingest writes Parquet itself, the raw rows reach those folders from a DuckDB
warehouse that holds them, a folder per day with only the changed days written (`day_folders`).
The export runs between Spark builds, never during one: a build holds the Spark home's lock
(lock.py) from this export to its views, and the command below takes the same lock.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import duckdb

from reengage import settings
from reengage.spark import lock
from reengage.spark.day_folders import DayExport, DayFolders, export_by_day
from reengage.spark.layout import spark_layout

RAW_SCHEMA = "raw"
DAY_COLUMN = "_partition_date"


def raw_table_names(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute(
        "select table_name from information_schema.tables "
        "where table_schema = ? and table_type = 'BASE TABLE' order by table_name",
        [RAW_SCHEMA],
    ).fetchall()
    return [name for (name,) in rows]


def export_raw_tables(con: duckdb.DuckDBPyConnection, raw_dir: Path) -> dict[str, DayExport]:
    """Every raw table under `<raw_dir>/<table>/`, by load day; what each export did."""
    raw_dir.mkdir(parents=True, exist_ok=True)
    return {
        table: export_by_day(con, DayFolders(f"{RAW_SCHEMA}.{table}", DAY_COLUMN, raw_dir / table))
        for table in raw_table_names(con)
    }


def export_raw_warehouse(warehouse: Path, raw_dir: Path) -> dict[str, DayExport]:
    """`export_raw_tables` from the DuckDB file at `warehouse`, opened read-only."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        con.execute("set timezone = 'UTC'")
        return export_raw_tables(con, raw_dir)
    finally:
        con.close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m reengage.spark.raw_export",
        description="Write the changed days of a DuckDB warehouse's raw tables as the Parquet Spark reads.",
    )
    parser.add_argument("--warehouse", type=Path, help="the DuckDB file (default: the warehouse setting)")
    args = parser.parse_args(argv)
    warehouse = args.warehouse or settings.warehouse_path()
    if not warehouse.exists():
        print(f"no DuckDB warehouse at {warehouse}", file=sys.stderr)
        return 1
    layout = spark_layout()
    raw_dir = layout.raw
    # Never under a running build's Spark, nor racing an erasure's discard.
    with lock.one_build_at_a_time(layout.home, "python -m reengage.spark.raw_export", print):
        exports = export_raw_warehouse(warehouse, raw_dir)
    for table, export in exports.items():
        print(
            f"{raw_dir / table}: {export.rows} rows; {export.days_written} day(s) written, "
            f"{export.days_removed} removed"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
