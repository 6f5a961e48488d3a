"""Carry out one erasure request in every store: send ledger, sink, then warehouse with its audit row.

Order matters for crash safety. The person's identifiers are looked up in the
warehouse, so the warehouse goes last: the ledger and the sink are erased
first (each in its own transaction), then one warehouse transaction deletes
the rows, adds the forget-list keys and writes the audit row. A crash before
that commit leaves the warehouse intact, and running the request again finds
everything it needs and finishes the job; running it after success finds
nothing left and changes nothing (an audit row records the second request).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from orchestration.defs.delivery.ledger import SendLedger
from orchestration.privacy import audit
from orchestration.privacy.forget_list import add_keys, ensure_forget_list
from orchestration.privacy.identity import resolve
from orchestration.privacy.requests import ErasureRequest
from orchestration.privacy.tables import personal_tables
from orchestration.privacy.warehouse_rows import delete_person
from orchestration.sink.store import SinkStore
from orchestration.warehouse import transaction

LEDGER_TABLE = "ledger.send_ledger"
SINK_TABLE = "sink.messages"


@dataclass(frozen=True)
class ErasureOutcome:
    """What one request did, in counts and hashes only (safe for logs and Dagster metadata)."""

    request_id: str
    subject_hash: str
    skipped: bool = False  # already carried out on an earlier run
    rows_removed_by_table: dict[str, int] = field(default_factory=dict)
    ledger_rows_cancelled: int = 0
    identifiers_forgotten: int = 0

    @property
    def rows_removed(self) -> int:
        return sum(self.rows_removed_by_table.values())


def erase(
    con: duckdb.DuckDBPyConnection,
    request: ErasureRequest,
    *,
    ledger_path: Path | None,
    sink_store_path: Path | None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> ErasureOutcome:
    """Erase the person everywhere; `con` is a writable warehouse connection outside a transaction."""
    tables = personal_tables(con)
    identity = resolve(con, tables, request.customer_id, request.email)
    removed: dict[str, int] = {}
    cancelled = 0
    if ledger_path is not None and ledger_path.exists():
        ledger = SendLedger(ledger_path).erase_customers(sorted(identity.customer_ids))
        cancelled = ledger["cancelled"]
        if ledger["blanked"]:
            removed[LEDGER_TABLE] = ledger["blanked"]
    if sink_store_path is not None and sink_store_path.exists():
        deleted = SinkStore(sink_store_path).erase_recipients(
            sorted(identity.emails), sorted(identity.customer_ids)
        )
        if deleted:
            removed[SINK_TABLE] = deleted

    ensure_forget_list(con)
    audit.ensure_audit(con)
    keys = identity.keys()
    with transaction(con):
        add_keys(con, keys, request.request_id, clock())
        removed.update(delete_person(con, tables, identity))
        audit.write(
            con,
            audit.AuditRecord(
                request_id=request.request_id,
                subject_hash=request.subject_hash,
                subject_kind=request.subject_kind,
                requested_by=request.requested_by,
                request_source=request.source,
                requested_at=request.requested_at,
                completed_at=clock(),
                identifiers_forgotten=len(keys),
                rows_removed_by_table=removed,
            ),
        )
    _reclaim(con)
    return ErasureOutcome(
        request_id=request.request_id,
        subject_hash=request.subject_hash,
        rows_removed_by_table=removed,
        ledger_rows_cancelled=cancelled,
        identifiers_forgotten=len(keys),
    )


def erase_all(
    con: duckdb.DuckDBPyConnection,
    requests: list[ErasureRequest],
    *,
    ledger_path: Path | None,
    sink_store_path: Path | None,
    skip_done: bool,
) -> list[ErasureOutcome]:
    """Each request in turn; with `skip_done`, requests already in the audit are reported, not redone."""
    done = audit.done_request_ids(con) if skip_done else set()
    outcomes = []
    for request in requests:
        if request.request_id in done:
            outcomes.append(ErasureOutcome(request.request_id, request.subject_hash, skipped=True))
            continue
        outcomes.append(erase(con, request, ledger_path=ledger_path, sink_store_path=sink_store_path))
        done.add(request.request_id)
    return outcomes


def _reclaim(con: duckdb.DuckDBPyConnection) -> None:
    """Write the deletions into the DuckDB file now rather than at some later checkpoint."""
    try:
        con.execute("checkpoint")
    except duckdb.Error:
        # Another connection holds the file (or the warehouse is PostgreSQL, which has its own
        # vacuum): the deletions are committed either way; only the file rewrite waits.
        pass
