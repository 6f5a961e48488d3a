"""A DuckDB table as Parquet folders by day, the layout Spark reads as a table partitioned by date.

Each day of the table's day column is a folder, `<column>=YYYY-MM-DD/` (rows without a day:
`<column>=__HIVE_DEFAULT_PARTITION__/`), holding that day's rows in one file without the column,
which Spark (and DuckDB's `hive_partitioning`) take from the folder name as a date. Columns and
types are as DuckDB keeps them (timestamptz as UTC instants, which Spark reads as its `timestamp`).

Only the days whose rows changed are written. Each table's folder keeps `_published.json`
(Spark skips names starting with `_` or `.`): its columns and, per day, a digest of that day's
rows as the last export wrote them (their count and the sum of their hashes, computed in
DuckDB). A day whose digest differs, or whose folder is gone, is written again, a day no longer
in the table is removed, and a table whose columns changed (a migration) is written whole,
since Spark takes a table's columns from one of its files. An empty table is one empty file in
a placeholder day, `<column>=1970-01-01/`, so Spark still learns its columns; it goes when rows
come.

A day's new folder is written beside the table's (hidden from Spark by its leading dot) and
swapped in once complete, so a reader never sees half a file; the swap is two renames, not
atomic, so the writers hold the Spark home's lock (lock.py) while they export. The record is
written last: a crash before it only costs writing the same days again.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb

from reengage.spark.layout import sql_path
from reengage.tables import column_types

NULL_DAY = "__HIVE_DEFAULT_PARTITION__"  # how DuckDB and Spark both name the folder of null days
EMPTY_DAY = "1970-01-01"  # the placeholder folder of an empty table
PUBLISHED = "_published.json"


@dataclass(frozen=True)
class DayExport:
    """One table's export: its rows, and the day folders written and removed to get there."""

    rows: int
    days_written: int
    days_removed: int


@dataclass(frozen=True)
class DayFolders:
    """Where one table's days go: `table` (schema.table in DuckDB) by `day_column` into `folder`."""

    table: str
    day_column: str
    folder: Path

    @property
    def relation(self) -> str:
        schema, name = self.table.split(".")
        return f'"{schema}"."{name}"'

    def day_folder(self, day: str) -> Path:
        return self.folder / f"{self.day_column}={day}"


def _day_digests(con: duckdb.DuckDBPyConnection, target: DayFolders) -> dict[str, str]:
    """{day as its folder names it: 'rows:hash sum'} of the table as it is now."""
    rows = con.execute(
        f"""select coalesce(strftime("{target.day_column}", '%Y-%m-%d'), '{NULL_DAY}'), count(*), sum(hash(t))
            from {target.relation} as t group by all"""
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


def _swap_in(target: DayFolders, staged: Path, day: str) -> None:
    final, stale = target.day_folder(day), target.folder / f".{day}.old"
    shutil.rmtree(stale, ignore_errors=True)
    if final.exists():
        final.rename(stale)
    staged.rename(final)
    shutil.rmtree(stale, ignore_errors=True)


def _write_days(con: duckdb.DuckDBPyConnection, target: DayFolders, days: list[str]) -> None:
    """Write `days` of the table (folder names) as one file each, then swap each into place."""
    staging = target.folder / ".staging"
    shutil.rmtree(staging, ignore_errors=True)
    day = f'"{target.day_column}"'
    dated = [d for d in days if d != NULL_DAY]
    where = f"{day} in (select unnest(?::date[]))" + (f" or {day} is null" if NULL_DAY in days else "")
    con.execute(
        f"copy (select * from {target.relation} where {where}) to '{sql_path(staging)}' "
        f"(format parquet, partition_by ({day}), filename_pattern 'part-{{i}}')",
        [dated],
    )
    staged = DayFolders(target.table, target.day_column, staging)
    for d in days:
        _swap_in(target, staged.day_folder(d), d)
    shutil.rmtree(staging, ignore_errors=True)


def _write_empty(con: duckdb.DuckDBPyConnection, target: DayFolders) -> None:
    """One empty file in the placeholder day, so Spark learns the columns of an empty table."""
    staged = target.folder / f".{EMPTY_DAY}.new"
    shutil.rmtree(staged, ignore_errors=True)
    staged.mkdir()
    con.execute(
        f'copy (select * exclude ("{target.day_column}") from {target.relation} limit 0) '
        f"to '{sql_path(staged / 'part-0.parquet')}' (format parquet)"
    )
    _swap_in(target, staged, EMPTY_DAY)


def export_by_day(con: duckdb.DuckDBPyConnection, target: DayFolders) -> DayExport:
    """Bring the target's folder to the table's rows, writing only the days changed since the last export."""
    folder = target.folder
    folder.mkdir(parents=True, exist_ok=True)
    columns = [[name, kind] for name, kind in column_types(con, target.table).items()]
    if target.day_column not in {name for name, _ in columns}:
        raise ValueError(f"{target.table} has no {target.day_column}: its files are written by that day")
    for leftover in folder.glob(".*"):  # a crash's staging, old days or record: never read by Spark
        if leftover.is_dir():
            shutil.rmtree(leftover)
        else:
            leftover.unlink()
    record = _read_record(folder)
    published = record.get("days", {}) if record.get("columns") == columns else {}
    digests = _day_digests(con, target)
    prefix = f"{target.day_column}="
    on_disk = {p.name.removeprefix(prefix) for p in folder.glob(f"{prefix}*") if p.is_dir()}
    changed = sorted(d for d, digest in digests.items() if published.get(d) != digest or d not in on_disk)
    gone = sorted(on_disk - set(digests) - ({EMPTY_DAY} if not digests else set()))
    if changed:
        _write_days(con, target, changed)
    if not digests and EMPTY_DAY not in on_disk:
        _write_empty(con, target)
    for day in gone:  # after the new days are in, so the table never shows no file at all
        shutil.rmtree(target.day_folder(day))
    _write_record(folder, {"columns": columns, "days": digests})
    return DayExport(sum(int(d.split(":")[0]) for d in digests.values()), len(changed), len(gone))
