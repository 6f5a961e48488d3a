"""Carry out erasure requests in every store: send ledger, other stores, then warehouse with its audit row.

The pepper is checked first (forget_list.py): without the one the forget list
was made with, nothing is touched. Order matters for crash safety. The person's
identifiers are looked up in the warehouse, so the warehouse goes last: the
ledger and the other stores are erased
first (each in its own transaction), then one warehouse transaction deletes
the rows, adds the forget-list keys and writes the audit row. A crash before
that commit leaves the warehouse intact, and running the request again finds
everything it needs and finishes the job; running it after success finds
nothing left and changes nothing (an audit row records the second request).

Other stores that hold copies of addresses (the development package's local sink,
or a deployment's own) join without the product importing them: an installed
package declares an entry point in the group `reengage.erasure_stores` whose name is
the table the audit row counts its rows under and whose object is a callable
`(emails, customer_ids, phones) -> rows removed` (see `EraseCopies`; docs/privacy.md).

Deleted rows stay in a DuckDB file as bytes of freed blocks, so `carry_out`
finishes by rewriting the warehouse file (warehouse_file.py) whenever an audit
row says its erasure has not been rewritten away yet, including one whose
rewrite an earlier crash cut short.

On a Spark warehouse the tables dbt built are Parquet files outside the DuckDB file, and an
incremental table keeps old rows that no rebuild from raw would bring back. Before that same
rewrite, every table dbt built there (and the raw rows exported for it, and the stages' tables
published for its readers) is discarded, so the next build makes them all again from the erased
raw tables (`reengage.spark.build.discard_built_tables`).
Tied to the audit row, a crash between the erasure and the discard is finished by the next run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import entry_points
from pathlib import Path

import duckdb

from reengage.defs.delivery.ledger import SendLedger
from reengage.privacy import audit
from reengage.privacy.forget_list import add_keys, checked_pepper
from reengage.privacy.identity import resolve
from reengage.privacy.requests import ErasureRequest
from reengage.privacy.tables import personal_tables
from reengage.privacy.warehouse_file import Rewrite, rewrite
from reengage.privacy.warehouse_rows import delete_person
from reengage.schema.migrations import migrate
from reengage.spark.build import discard_built_tables
from reengage.warehouse import connect, transaction

LEDGER_TABLE = "ledger.send_ledger"
ERASURE_STORES_GROUP = "reengage.erasure_stores"
# Deletes every copy it holds of these addresses, customers or phone numbers (sorted lists),
# idempotently, and returns how many rows it removed. It must not create its store when there is none.
EraseCopies = Callable[[Sequence[str], Sequence[str], Sequence[str]], int]


def registered_stores() -> dict[str, EraseCopies]:
    """The other stores installed packages declare, by the table name the audit row uses."""
    return {point.name: point.load() for point in entry_points(group=ERASURE_STORES_GROUP)}


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
    other_stores: Mapping[str, EraseCopies] | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> ErasureOutcome:
    """Erase the person everywhere; `con` is a writable warehouse connection outside a transaction.

    `other_stores` defaults to the registered ones. The rows leave the tables here; their bytes
    leave the DuckDB file when `carry_out` rewrites it.
    """
    checked_pepper(con)  # before any store is touched
    tables = personal_tables(con)
    identity = resolve(con, tables, request.customer_id, request.email)
    removed: dict[str, int] = {}
    cancelled = 0
    if ledger_path is not None and ledger_path.exists():
        ledger = SendLedger(ledger_path).erase_customers(sorted(identity.customer_ids))
        cancelled = ledger["cancelled"]
        if ledger["blanked"]:
            removed[LEDGER_TABLE] = ledger["blanked"]
    stores = registered_stores() if other_stores is None else other_stores
    for table, erase_copies in stores.items():
        deleted = erase_copies(
            sorted(identity.emails), sorted(identity.customer_ids), sorted(identity.phones)
        )
        if deleted:
            removed[table] = deleted

    migrate(con)  # the forget list and the audit, before the transaction that writes them
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
    skip_done: bool,
) -> list[ErasureOutcome]:
    """Each request in turn; with `skip_done`, requests already in the audit are reported, not redone."""
    done = audit.done_request_ids(con) if skip_done else set()
    outcomes = []
    for request in requests:
        if request.request_id in done:
            outcomes.append(ErasureOutcome(request.request_id, request.subject_hash, skipped=True))
            continue
        outcomes.append(erase(con, request, ledger_path=ledger_path))
        done.add(request.request_id)
    return outcomes


@dataclass(frozen=True)
class ErasureRun:
    """The requests' outcomes, and the warehouse file's rewrite when one was due."""

    outcomes: list[ErasureOutcome]
    file_rewrite: Rewrite | None


def carry_out(
    requests: list[ErasureRequest],
    *,
    warehouse_path: Path,
    warehouse_kind: str,
    ledger_path: Path | None,
    skip_done: bool,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> ErasureRun:
    """Erase the requests, then rewrite the DuckDB file if any erasure's bytes may still be in it.

    Called with no requests, it still finishes a rewrite an earlier crash cut short. On
    PostgreSQL there is no file to rewrite (docs/privacy.md says what to run there).
    """
    with connect(warehouse_path, kind=warehouse_kind) as con:
        outcomes = erase_all(con, requests, ledger_path=ledger_path, skip_done=skip_done)
        due = warehouse_kind != "postgres" and audit.awaiting_file_rewrite(con) > 0
    if not due:
        return ErasureRun(outcomes, None)
    if warehouse_kind == "spark":
        discard_built_tables()  # before the rewrite marks the erasure done

    # The connection is closed: DuckDB lets a process hold a file once, and the rewrite takes it.
    def stamp(copy: duckdb.DuckDBPyConnection, catalog: str) -> None:
        audit.mark_file_rewritten(copy, catalog, clock())

    return ErasureRun(outcomes, rewrite(warehouse_path, stamp=stamp))
