"""The raw tables of a DuckDB warehouse as the Parquet files the Spark warehouse reads, by load day.

Spark reads `raw.<table>` as an external Parquet table over `<spark home>/raw/<table>/`,
partitioned by the day ingest loaded a row for, `_partition_date` (registered before every dbt
run, dbt_project/macros/spark/raw_sources.sql), so a build of a few days reads only their
folders. Until ingest writes Parquet itself, the raw rows reach those folders from a DuckDB
warehouse that holds them. Each day is a folder, `_partition_date=YYYY-MM-DD/` (rows without a
day: `_partition_date=__HIVE_DEFAULT_PARTITION__/`), holding that day's rows in one file
without the column, which Spark takes from the folder name as a date. Columns and types are as
DuckDB keeps them (timestamptz as UTC instants, which Spark reads as its `timestamp`).

Only the days whose rows changed are written. Each table's folder keeps `_published.json`
(Spark skips names starting with `_` or `.`): its columns and, per day, a digest of that day's
rows as the last export wrote them (their count and the sum of their hashes, computed in
DuckDB). A day whose digest differs, or whose folder is gone, is written again, a day no longer
in the table is removed, and a table whose columns changed (a migration) is written whole,
since Spark takes a table's columns from one of its files. An empty table is one empty file in
a placeholder day, `_partition_date=1970-01-01/`, so Spark still learns its columns; it goes
when rows come.

A day's new folder is written beside the table's (`.<day>.new/`, hidden from Spark) and swapped
in once complete, so a Spark process never reads half a file; the swap is two renames, not
atomic, so export between Spark builds, never during one (a build holds the Spark home's lock,
lock.py, from this export to its views). The record is written last: a crash before it only
costs writing the same days again.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb

from reengage import settings
from reengage.spark.layout import spark_layout, sql_path
from reengage.tables import column_types

RAW_SCHEMA = "raw"
DAY_COLUMN = "_partition_date"
NULL_DAY = "__HIVE_DEFAULT_PARTITION__"  # how DuckDB and Spark both name the folder of null days
EMPTY_DAY = "1970-01-01"  # the placeholder folder of an empty table
PUBLISHED = "_published.json"


@dataclass(frozen=True)
class RawExport:
    """One table's export: its rows, and the day folders written and removed to get there."""

    rows: int
    days_written: int
    days_removed: int


def raw_table_names(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute(
        "select table_name from information_schema.tables "
        "where table_schema = ? and table_type = 'BASE TABLE' order by table_name",
        [RAW_SCHEMA],
    ).fetchall()
    return [name for (name,) in rows]


def day_folder(day: str) -> str:
    return f"{DAY_COLUMN}={day}"


def _day_digests(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    """{day as its folder names it: 'rows:hash sum'} of the table as it is now."""
    rows = con.execute(
        f"""select coalesce(strftime({DAY_COLUMN}, '%Y-%m-%d'), '{NULL_DAY}'), count(*), sum(hash(t))
            from {RAW_SCHEMA}."{table}" as t group by all"""
    ).fetchall()
    return {day: f"{count}:{total}" for day, count, total in rows}


def _read_record(folder: Path) -> dict:
    try:
        return json.loads((folder / PUBLISHED).read_text())
    except (OSError, ValueError):
        return {}  # never exported, or a record cut short: every day is written again


def _write_record(folder: Path, record: dict) -> None:
    fresh = folder / f".{PUBLISHED}.new"
    fresh.write_text(json.dumps(record, sort_keys=True))
    os.replace(fresh, folder / PUBLISHED)


def _swap_in(folder: Path, staged: Path, day: str) -> None:
    final, stale = folder / day_folder(day), folder / f".{day}.old"
    shutil.rmtree(stale, ignore_errors=True)
    if final.exists():
        final.rename(stale)
    staged.rename(final)
    shutil.rmtree(stale, ignore_errors=True)


def _write_days(con: duckdb.DuckDBPyConnection, table: str, folder: Path, days: list[str]) -> None:
    """Write `days` of the table (folder names) as one file each, then swap each into place."""
    staging = folder / ".staging"
    shutil.rmtree(staging, ignore_errors=True)
    dated = [day for day in days if day != NULL_DAY]
    where = f"{DAY_COLUMN} in (select unnest(?::date[]))" + (
        f" or {DAY_COLUMN} is null" if NULL_DAY in days else ""
    )
    con.execute(
        f"copy (select * from {RAW_SCHEMA}.\"{table}\" where {where}) to '{sql_path(staging)}' "
        f"(format parquet, partition_by ({DAY_COLUMN}), filename_pattern 'part-{{i}}')",
        [dated],
    )
    for day in days:
        _swap_in(folder, staging / day_folder(day), day)
    shutil.rmtree(staging, ignore_errors=True)


def _write_empty(con: duckdb.DuckDBPyConnection, table: str, folder: Path) -> None:
    """One empty file in the placeholder day, so Spark learns the columns of an empty table."""
    staged = folder / f".{EMPTY_DAY}.new"
    shutil.rmtree(staged, ignore_errors=True)
    staged.mkdir()
    con.execute(
        f'copy (select * exclude ({DAY_COLUMN}) from {RAW_SCHEMA}."{table}" limit 0) '
        f"to '{sql_path(staged / 'part-0.parquet')}' (format parquet)"
    )
    _swap_in(folder, staged, EMPTY_DAY)


def export_raw_table(con: duckdb.DuckDBPyConnection, table: str, folder: Path) -> RawExport:
    """Bring `folder` to the table's rows, writing only the days that changed since the last export."""
    folder.mkdir(parents=True, exist_ok=True)
    columns = [[name, kind] for name, kind in column_types(con, f"{RAW_SCHEMA}.{table}").items()]
    if DAY_COLUMN not in {name for name, _ in columns}:
        raise ValueError(f"{RAW_SCHEMA}.{table} has no {DAY_COLUMN}: Spark reads raw tables by load day")
    for leftover in folder.glob(".*"):  # a crash's staging, old days or record: never read by Spark
        if leftover.is_dir():
            shutil.rmtree(leftover)
        else:
            leftover.unlink()
    record = _read_record(folder)
    published = record.get("days", {}) if record.get("columns") == columns else {}
    digests = _day_digests(con, table)
    on_disk = {p.name.split("=", 1)[1] for p in folder.glob(f"{DAY_COLUMN}=*") if p.is_dir()}
    changed = sorted(d for d, digest in digests.items() if published.get(d) != digest or d not in on_disk)
    gone = sorted(on_disk - set(digests) - ({EMPTY_DAY} if not digests else set()))
    if changed:
        _write_days(con, table, folder, changed)
    if not digests and EMPTY_DAY not in on_disk:
        _write_empty(con, table, folder)
    for day in gone:  # after the new days are in, so the table never shows no file at all
        shutil.rmtree(folder / day_folder(day))
    _write_record(folder, {"columns": columns, "days": digests})
    return RawExport(sum(int(d.split(":")[0]) for d in digests.values()), len(changed), len(gone))


def export_raw_tables(con: duckdb.DuckDBPyConnection, raw_dir: Path) -> dict[str, RawExport]:
    """Every raw table under `<raw_dir>/<table>/`, by load day; what each export did."""
    raw_dir.mkdir(parents=True, exist_ok=True)
    return {table: export_raw_table(con, table, raw_dir / table) for table in raw_table_names(con)}


def export_raw_warehouse(warehouse: Path, raw_dir: Path) -> dict[str, RawExport]:
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
    raw_dir = spark_layout().raw
    for table, export in export_raw_warehouse(warehouse, raw_dir).items():
        print(
            f"{raw_dir / table}: {export.rows} rows; {export.days_written} day(s) written, "
            f"{export.days_removed} removed"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
