"""The raw tables of a DuckDB warehouse as the Parquet files the Spark warehouse reads.

Spark reads `raw.<table>` as an external Parquet table over `<spark home>/raw/<table>/`
(registered before every dbt run, dbt_project/macros/spark/raw_sources.sql). Until ingest writes
Parquet itself, the raw rows reach that folder from a DuckDB warehouse that holds them: every
table of its `raw` schema is written whole, one file per table, column names and types as DuckDB
keeps them (timestamptz as UTC instants, which Spark reads as its `timestamp`).

A table's new file is written beside the old folder and swapped in when complete, so a Spark
process never reads half a file; the swap itself is two renames, not atomic, so export between
Spark runs, never during one.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import duckdb

from reengage import settings
from reengage.spark.layout import spark_layout

RAW_SCHEMA = "raw"


def raw_table_names(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute(
        "select table_name from information_schema.tables "
        "where table_schema = ? and table_type = 'BASE TABLE' order by table_name",
        [RAW_SCHEMA],
    ).fetchall()
    return [name for (name,) in rows]


def export_raw_tables(con: duckdb.DuckDBPyConnection, raw_dir: Path) -> dict[str, int]:
    """Write every raw table to `<raw_dir>/<table>/part-0.parquet`; the rows written, by table."""
    raw_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, int] = {}
    for table in raw_table_names(con):
        final = raw_dir / table
        fresh = raw_dir / f".{table}.new"
        stale = raw_dir / f".{table}.old"
        for leftover in (fresh, stale):
            shutil.rmtree(leftover, ignore_errors=True)
        fresh.mkdir()
        file = (fresh / "part-0.parquet").as_posix().replace("'", "''")
        # one file even for an empty table: Spark takes the table's columns from it
        con.execute(f"copy (select * from {RAW_SCHEMA}.\"{table}\") to '{file}' (format parquet)")
        written[table] = con.execute(f"select count(*) from read_parquet('{file}')").fetchone()[0]
        if final.exists():
            final.rename(stale)
        fresh.rename(final)
        shutil.rmtree(stale, ignore_errors=True)
    return written


def export_raw_warehouse(warehouse: Path, raw_dir: Path) -> dict[str, int]:
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
        description="Write the raw tables of a DuckDB warehouse as the Parquet files Spark reads.",
    )
    parser.add_argument("--warehouse", type=Path, help="the DuckDB file (default: the warehouse setting)")
    args = parser.parse_args(argv)
    warehouse = args.warehouse or settings.warehouse_path()
    if not warehouse.exists():
        print(f"no DuckDB warehouse at {warehouse}", file=sys.stderr)
        return 1
    raw_dir = spark_layout().raw
    for table, rows in export_raw_warehouse(warehouse, raw_dir).items():
        print(f"{raw_dir / table}: {rows} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
