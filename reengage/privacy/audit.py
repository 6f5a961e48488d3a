"""privacy.erasure_audit: proof that each request was carried out, without saying whom it was about.

One row per processed request: its id, the keyed hash of the identifier the
request named (the requester can recompute it to find their request), who or
what asked, when it was asked and finished, how many rows each store lost, and
when the DuckDB warehouse file was rewritten without the deleted rows' bytes
(`file_rewritten_at`, empty until then: a run that finds such rows rewrites the
file, so a crash between the erasure and the rewrite is finished by the next run).
No plaintext identifier is ever written here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import duckdb

from reengage.privacy.tables import quote
from reengage.schema.declared import ERASURE_AUDIT

TABLE = ERASURE_AUDIT.name


@dataclass(frozen=True)
class AuditRecord:
    request_id: str
    subject_hash: str
    subject_kind: str  # which identifier the request named: customer_id or email
    requested_by: str
    request_source: str  # "cli" or the request file's name
    requested_at: datetime
    completed_at: datetime
    identifiers_forgotten: int
    rows_removed_by_table: dict[str, int]

    @property
    def rows_removed(self) -> int:
        return sum(self.rows_removed_by_table.values())


def write(con: duckdb.DuckDBPyConnection, record: AuditRecord) -> None:
    """Append the record; runs inside the caller's transaction, with the erasure it describes."""
    con.execute(
        ERASURE_AUDIT.insert_values(
            [
                "request_id",
                "subject_hash",
                "subject_kind",
                "requested_by",
                "request_source",
                "requested_at",
                "completed_at",
                "identifiers_forgotten",
                "rows_removed",
                "rows_removed_by_table",
            ]
        ),
        [
            record.request_id,
            record.subject_hash,
            record.subject_kind,
            record.requested_by,
            record.request_source,
            record.requested_at,
            record.completed_at,
            record.identifiers_forgotten,
            record.rows_removed,
            json.dumps(record.rows_removed_by_table, sort_keys=True),
        ],
    )


def done_request_ids(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Requests already carried out: a request file is read every day, each line acted on once."""
    return {r[0] for r in con.execute(f"select distinct request_id from {TABLE}").fetchall()}


def awaiting_file_rewrite(con: duckdb.DuckDBPyConnection) -> int:
    """Requests carried out whose deleted rows may still be bytes in the DuckDB file's free blocks."""
    return int(con.execute(f"select count(*) from {TABLE} where file_rewritten_at is null").fetchall()[0][0])


def mark_file_rewritten(con: duckdb.DuckDBPyConnection, catalog: str, now: datetime) -> None:
    """Stamp the waiting rows in the rewritten copy (`catalog`), so the stamp and the new file go together."""
    con.execute(
        f"update {quote(catalog)}.{TABLE} set file_rewritten_at = ? where file_rewritten_at is null", [now]
    )
