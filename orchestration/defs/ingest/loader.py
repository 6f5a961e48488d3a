"""Load one day's export of one source into its raw table, idempotently.

A partition is replaced in one transaction: loading the same day twice leaves the
same rows, and a load that fails half-way leaves the warehouse as it was.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import duckdb
import pandas as pd

from orchestration.defs.ingest.contracts import CONTRACTS, SQL_TYPES, Contract
from orchestration.defs.ingest.parse import parse_export
from orchestration.defs.ingest.reader import IngestError, find_export, read_export

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
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def missing(self) -> bool:
        return self.file is None


def ensure_raw_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists raw")
    for contract in CONTRACTS.values():
        columns = ", ".join(f'"{c.name}" {SQL_TYPES[c.type]}' for c in contract.columns)
        con.execute(f"create table if not exists raw.{contract.source} ({columns}, {LINEAGE_COLUMNS})")
    con.execute(f"create table if not exists raw.quarantine ({QUARANTINE_COLUMNS})")


def load_day(con: duckdb.DuckDBPyConnection, landing: str, source: str, day: date) -> LoadReport:
    """Load `source`'s export for `day`; a missing file leaves what is stored untouched."""
    contract = CONTRACTS[source]
    path = find_export(landing, source, day)
    report = LoadReport(source=source, day=day, file=path)
    ensure_raw_tables(con)
    if path is None:
        return report
    frame = read_export(path)
    parsed = parse_export(frame, contract, path, day)
    report.rows_read = len(frame)
    report.rows_loaded = len(parsed.good)
    report.rows_quarantined = len(parsed.quarantine)
    report.quarantine_reasons = _reasons(parsed.quarantine)
    report.warnings = parsed.warnings
    _replace_partition(con, contract, day, path, parsed.good, parsed.quarantine)
    return report


def describe_quarantine(con: duckdb.DuckDBPyConnection, source: str, day: date, limit: int = 5) -> list[str]:
    """A few quarantined rows as 'file: row R, column C: reason' lines for the run log."""
    rows = con.execute(
        'select file, row, "column", reason from raw.quarantine '
        "where source = ? and _partition_date = ? order by row limit ?",
        [source, day, limit],
    ).fetchall()
    return [f"{file}: row {row}, column {column}: {reason}" for file, row, column, reason in rows]


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
        con.begin()
        con.execute(f"delete from raw.{contract.source} where _partition_date = ?", [day])
        con.execute(f"insert into raw.{contract.source} by name select * from incoming_rows")
        con.execute(
            "delete from raw.quarantine where source = ? and _partition_date = ?", [contract.source, day]
        )
        con.execute("insert into raw.quarantine by name select * from incoming_quarantine")
        con.commit()
    except Exception as err:
        con.rollback()
        raise IngestError(
            f"{path}: load into raw.{contract.source} failed and was rolled back: {err}"
        ) from err
    finally:
        con.unregister("incoming_rows")
        con.unregister("incoming_quarantine")


def _reasons(quarantine: pd.DataFrame) -> dict[str, int]:
    if quarantine.empty:
        return {}
    keys = quarantine["column"].fillna("?") + ": " + quarantine["reason"]
    return {str(k): int(v) for k, v in keys.value_counts().items()}
