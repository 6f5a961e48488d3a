"""Load one day's export of one source into its raw table, idempotently.

A partition is replaced in one transaction: loading the same day twice leaves the
same rows, and a load that fails half-way leaves the warehouse as it was. A file
that yields no good rows never replaces a partition that holds rows (an empty
re-delivery is far likelier a broken export than a day that un-happened).
Files dated after the day are never read by its load; they are reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import duckdb
import pandas as pd

from orchestration.defs.ingest.contracts import CONTRACTS, SQL_TYPES, Contract
from orchestration.defs.ingest.parse import parse_export
from orchestration.defs.ingest.reader import (
    IngestError,
    list_landing,
    only_export,
    read_export_with_warnings,
)
from orchestration.privacy.forget_list import drop_forgotten
from orchestration.warehouse import transaction

QUARANTINE_COLUMNS = (
    'source varchar, file varchar, row bigint, "column" varchar, reason varchar, raw_record varchar, '
    "_partition_date date, _loaded_at timestamptz"
)
LINEAGE_COLUMNS = "_source_file varchar, _source_row bigint, _partition_date date, _loaded_at timestamptz"


@dataclass
class LoadReport:
    source: str
    day: date
    file: str | None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    rows_forgotten: int = 0  # rows of erased people (privacy.forget_list): dropped, never stored
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    later_files: list[str] = field(default_factory=list)  # landing files dated after `day`, not loaded

    @property
    def missing(self) -> bool:
        return self.file is None

    @property
    def summary(self) -> str:
        """One line for the run log (file names and counts only, never values)."""
        if self.missing:
            return (
                f"{self.source} for {self.day}: no export file ({self.source}_{self.day}.csv|jsonl|parquet)"
            )
        return (
            f"{self.file}: read {self.rows_read}, loaded {self.rows_loaded}, "
            f"quarantined {self.rows_quarantined}"
            + (f", dropped {self.rows_forgotten} of erased people" if self.rows_forgotten else "")
        )


def ensure_raw_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists raw")
    for contract in CONTRACTS.values():
        columns = ", ".join(f'"{c.name}" {SQL_TYPES[c.type]}' for c in contract.columns)
        con.execute(f"create table if not exists raw.{contract.source} ({columns}, {LINEAGE_COLUMNS})")
    con.execute(f"create table if not exists raw.quarantine ({QUARANTINE_COLUMNS})")


def load_day(con: duckdb.DuckDBPyConnection, landing: str, source: str, day: date) -> LoadReport:
    """Load `source`'s export for `day`; a missing file leaves what is stored untouched."""
    contract = CONTRACTS[source]
    listing = list_landing(landing, source, day)
    path = only_export(listing, source, day)
    report = LoadReport(source=source, day=day, file=path, later_files=listing.later_files)
    if listing.later_files:
        report.warnings.append(
            f"{source}: {len(listing.later_files)} landing file(s) dated after {day} were not loaded "
            f"with it ({', '.join(listing.later_files[:3])}{', ...' if len(listing.later_files) > 3 else ''})"
        )
    if listing.misnamed:
        report.warnings.append(
            f"{source}: landing file(s) not named {source}_YYYY-MM-DD.csv|jsonl|parquet were ignored "
            f"({', '.join(listing.misnamed[:3])}{', ...' if len(listing.misnamed) > 3 else ''})"
        )
    ensure_raw_tables(con)
    if path is None:
        return report
    read = read_export_with_warnings(path)
    parsed = parse_export(read.frame, contract, path, day)
    good, quarantine, report.rows_forgotten = drop_forgotten(con, parsed.good, parsed.quarantine)
    report.rows_read = len(read.frame)
    report.rows_loaded = len(good)
    report.rows_quarantined = len(quarantine)
    report.quarantine_reasons = _reasons(quarantine)
    report.warnings += read.warnings + parsed.warnings
    if report.rows_read == 0:
        report.warnings.append(f"{path}: the file has no data rows")
    if parsed.good.empty:
        stored = _stored_rows(con, contract.source, day)
        if stored:
            raise IngestError(
                f"{path}: no loadable rows ({report.rows_read} read, {report.rows_quarantined} quarantined), "
                f"but raw.{source} already holds {stored} rows for {day}; they were kept "
                f"(delete that partition by hand if the day really has no {source})"
            )
    _replace_partition(con, contract, day, path, good, quarantine.drop(columns="kind"))
    return report


def describe_quarantine(con: duckdb.DuckDBPyConnection, source: str, day: date, limit: int = 5) -> list[str]:
    """A few quarantined rows as 'file: row R, column C: reason' lines for the run log."""
    rows = con.execute(
        'select file, row, "column", reason from raw.quarantine '
        "where source = ? and _partition_date = ? order by row limit ?",
        [source, day, limit],
    ).fetchall()
    return [
        f"{file}: row {row}, " + (f"column {column}" if column else "whole row") + f": {reason}"
        for file, row, column, reason in rows
    ]


def _stored_rows(con: duckdb.DuckDBPyConnection, source: str, day: date) -> int:
    rows = con.execute(f"select count(*) from raw.{source} where _partition_date = ?", [day]).fetchall()
    return int(rows[0][0])


def _replace_partition(
    con: duckdb.DuckDBPyConnection,
    contract: Contract,
    day: date,
    path: str,
    good: pd.DataFrame,
    quarantine: pd.DataFrame,
) -> None:
    loaded_at = datetime.now(UTC)
    good = good.assign(_source_file=path, _partition_date=day, _loaded_at=loaded_at)
    quarantine = quarantine.assign(
        source=contract.source, file=path, _partition_date=day, _loaded_at=loaded_at
    )
    con.register("incoming_rows", good)
    con.register("incoming_quarantine", quarantine)
    try:
        with transaction(con):
            con.execute(f"delete from raw.{contract.source} where _partition_date = ?", [day])
            con.execute(f"insert into raw.{contract.source} by name select * from incoming_rows")
            con.execute(
                "delete from raw.quarantine where source = ? and _partition_date = ?", [contract.source, day]
            )
            con.execute("insert into raw.quarantine by name select * from incoming_quarantine")
    except Exception as err:
        raise IngestError(
            f"{path}: load into raw.{contract.source} failed and was rolled back: {err}"
        ) from err
    finally:
        con.unregister("incoming_rows")
        con.unregister("incoming_quarantine")


def _reasons(quarantine: pd.DataFrame) -> dict[str, int]:
    if quarantine.empty:
        return {}
    keys = quarantine["column"].fillna("whole row") + ": " + quarantine["kind"].fillna(quarantine["reason"])
    return {str(k): int(v) for k, v in keys.value_counts().items()}
