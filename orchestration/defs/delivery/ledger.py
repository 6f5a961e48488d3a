"""The send ledger: one row per (customer, campaign, run date), the memory that makes sends exactly-once.

SQLite in WAL mode with synchronous=FULL: every state change is its own durable
commit, so a crash at any point leaves a row in a state that says what is known.
State changes are guarded by the state (and batch id) they expect, so a stale or
concurrent process can never move a row it does not own; claims use
`BEGIN IMMEDIATE` so two processes cannot claim the same planned row.

States:
    planned    known, not yet handed to the provider
    held       intentionally not sent (e.g. holdout arm); never sent by the sender
    in_flight  claimed under a batch id; a request may be on its way. `in_doubt=1`
               marks rows a crash or an ambiguous failure left unresolvable: the
               provider may or may not have them, and resending could duplicate
    accepted   the provider answered 2xx
    failed     the provider refused (with its reason), or retries ran out
    cancelled  withdrawn on purpose before acceptance

The table adds two columns to the contract in docs/architecture.md: `send_at`
(the unix time the provider was asked to send at; recovery needs it to know
whether a batch can still be cancelled) and `in_doubt`.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

from orchestration.defs.delivery.crashpoints import crashpoint
from orchestration.sqlite_pool import SQLitePool, erasing_transaction, immediate_transaction

STATES = ("planned", "in_flight", "accepted", "failed", "cancelled", "held")

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS send_ledger (
    send_id TEXT PRIMARY KEY,
    run_date TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    campaign_id TEXT NOT NULL,
    variant TEXT,
    state TEXT NOT NULL CHECK (state IN ({", ".join(repr(s) for s in STATES)})),
    batch_id TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    planned_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    accepted_at TEXT,
    send_at INTEGER,
    in_doubt INTEGER NOT NULL DEFAULT 0
);
-- Indexes that state changes do not touch (run_date never changes), or touch only while a
-- row is in flight (a few thousand entries at most): a (run_date, state) index moved every
-- row twice per send inside one ever-growing tree, the ledger's largest cost per message.
DROP INDEX IF EXISTS send_ledger_run_date_state;
DROP INDEX IF EXISTS send_ledger_batch_id;
CREATE INDEX IF NOT EXISTS send_ledger_run_date ON send_ledger (run_date);
CREATE INDEX IF NOT EXISTS send_ledger_in_flight ON send_ledger (run_date) WHERE state = 'in_flight';
CREATE INDEX IF NOT EXISTS send_ledger_batch ON send_ledger (batch_id) WHERE batch_id IS NOT NULL;
"""

# SQLite's default host-parameter limit is 32766; stay far below it per statement.
_CHUNK = 900

# What an erased person's customer_id becomes; the columns erasure keeps (ids, states, times).
ERASED_MARKER = "erased"
_ERASED_VALUES = {"customer_id": ERASED_MARKER, "last_error": "erased at the customer's request"}
_LEDGER_BOOKKEEPING = frozenset(
    "send_id run_date campaign_id variant state batch_id attempts planned_at updated_at accepted_at "
    "send_at in_doubt".split()
)


def send_id(customer_id: str, campaign_id: str, run_date: str | date) -> str:
    """The one id of a (customer, campaign, run date) message: stable across runs and machines."""
    return _hash_key(f"{customer_id}|{campaign_id}|{_iso_date(run_date)}")


def _hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def _iso_date(value: str | date | datetime) -> str:
    if type(value) is str:
        return _iso_date_str(value)
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return date.fromisoformat(str(value)[:10]).isoformat()


@lru_cache(maxsize=4096)
def _iso_date_str(value: str) -> str:
    """Run dates repeat (one or a few per run): parse each distinct string once."""
    return date.fromisoformat(value[:10]).isoformat()


@dataclass(frozen=True)
class LedgerRow:
    """One ledger row; holds ids only, never an address or a message body."""

    send_id: str
    run_date: str
    customer_id: str
    campaign_id: str
    variant: str | None
    state: str
    batch_id: str | None
    attempts: int
    last_error: str | None
    planned_at: str
    updated_at: str
    accepted_at: str | None
    send_at: int | None
    in_doubt: bool


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


class SendLedger:
    """Typed access to the ledger file; safe to share between threads and processes.

    Each call opens its own short-lived connection, so one instance can be used
    from several threads, and several processes can hold the same file.
    """

    def __init__(self, path: str | Path, *, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self._clock = clock
        # 64 MiB of cache: the send_id index of a big day stays hot.
        self._db = SQLitePool(self.path, _SCHEMA, busy_timeout_seconds=60, cache_mib=64)

    def __repr__(self) -> str:
        return f"SendLedger({str(self.path)!r})"

    # -- plumbing ------------------------------------------------------------

    def _now(self) -> str:
        return datetime.fromtimestamp(self._clock(), tz=UTC).isoformat(timespec="microseconds")

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with self._db.connect(row_factory=sqlite3.Row) as conn:
            yield conn

    @contextmanager
    def _transaction(self, op: str) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE takes the write lock up front: readers of 'planned' can't race."""
        with (
            self._connect() as conn,
            immediate_transaction(conn, before_commit=partial(crashpoint, f"ledger_{op}_uncommitted")),
        ):
            yield conn

    def _transition(
        self,
        send_ids: Sequence[str],
        *,
        op: str,
        to_state: str,
        from_states: Sequence[str],
        batch_id: str | None = None,
        sets: Mapping[str, Any] | None = None,
    ) -> int:
        """Move rows between states, only if they are where the caller believes they are."""
        assignments = {"state": to_state, "updated_at": self._now(), **(sets or {})}
        set_sql = ", ".join(f"{column} = ?" for column in assignments)
        changed = 0
        with self._transaction(op) as conn:
            for chunk in _chunks(list(send_ids)):
                sql = (
                    f"UPDATE send_ledger SET {set_sql} WHERE send_id IN ({', '.join('?' * len(chunk))})"
                    f" AND state IN ({', '.join('?' * len(from_states))})"
                )
                params: list[Any] = [*assignments.values(), *chunk, *from_states]
                if batch_id is not None:
                    sql += " AND batch_id = ?"
                    params.append(batch_id)
                changed += conn.execute(sql, params).rowcount
        return changed

    # -- planning ------------------------------------------------------------

    def plan(self, rows: Iterable[Any]) -> int:
        """Record intended sends; rows already known are left exactly as they are.

        Each row (mapping or object) needs customer_id, campaign_id, run_date and may
        carry variant, state ('planned' or 'held') and reason (kept in last_error for
        held rows). A given send_id must match the one computed from the key, which
        catches a stage that hashes differently. Returns how many rows were new.
        """
        now = self._now()
        values = []
        for row in rows:
            get = row.get if isinstance(row, Mapping) else partial(getattr, row)
            customer_id = str(get("customer_id", None))
            campaign_id = str(get("campaign_id", None))
            run_date = _iso_date(get("run_date", None))
            computed = _hash_key(f"{customer_id}|{campaign_id}|{run_date}")
            given = get("send_id", None)
            if given not in (None, "") and given != computed:
                raise ValueError(
                    f"send_id {given!r} does not match sha256(customer_id|campaign_id|run_date) for "
                    f"campaign {campaign_id!r}, run date {run_date}"
                )
            state = get("state", None) or "planned"
            if state not in ("planned", "held"):
                raise ValueError(f"plan() accepts state 'planned' or 'held', not {state!r}")
            variant = get("variant", None)
            reason = get("reason", None) if state == "held" else None
            values.append(
                (
                    computed,
                    run_date,
                    customer_id,
                    campaign_id,
                    None if variant is None else str(variant),
                    state,
                    reason,
                    now,
                    now,
                )
            )
        return self._insert_planned(values)

    def plan_messages(self, messages: Iterable[Any]) -> int:
        """`plan()` for outbound messages, whose send_id the message derived with `send_id()`.

        The sender's hot path: no re-hashing and no per-field lookups by name, so
        planning a million-message day costs little beyond the inserts themselves.
        Each message needs send_id, run_date (ISO), customer_id, campaign_id, variant.
        """
        now = self._now()
        # In input order (not sorted by send_id): rowids then follow the order requests
        # are grouped in, so each request's claim and acceptance touch neighbouring rows.
        return self._insert_planned(
            [
                (m.send_id, m.run_date, m.customer_id, m.campaign_id, m.variant, "planned", None, now, now)
                for m in messages
            ]
        )

    def _insert_planned(self, values: Sequence[tuple[Any, ...]]) -> int:
        """Insert-or-ignore in one transaction (one commit for the whole list); returns rows new."""
        with self._transaction("plan") as conn:
            before = conn.total_changes
            conn.executemany(
                """
                INSERT OR IGNORE INTO send_ledger
                    (send_id, run_date, customer_id, campaign_id, variant, state, last_error,
                     planned_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                values,
            )
            return conn.total_changes - before

    # -- sending -------------------------------------------------------------

    def claim(
        self,
        send_ids: Sequence[str],
        batch_id: str,
        *,
        send_at: Mapping[str, int | None] | None = None,
        count_attempt: bool = False,
    ) -> list[str]:
        """Atomically take still-planned rows for one request under `batch_id`.

        Returns the ids actually claimed (a concurrent sender may have taken some);
        only those may be sent. `send_at` records when the provider will be asked
        to send each one, which decides later whether the batch is cancellable.
        `count_attempt` also counts the first POST (saving `record_attempt`'s commit).
        """
        now = self._now()
        claimed: list[str] = []
        by_send_at: dict[int | None, list[str]] = {}
        for sid in dict.fromkeys(send_ids):
            by_send_at.setdefault((send_at or {}).get(sid), []).append(sid)
        with self._transaction("claim") as conn:
            # One statement per chunk (rows sharing a send_at, usually all of them), not per row.
            for when, ids in by_send_at.items():
                for chunk in _chunks(ids):
                    marks = ", ".join("?" * len(chunk))
                    rows = conn.execute(
                        "UPDATE send_ledger SET state = 'in_flight', batch_id = ?, send_at = ?, "
                        f"in_doubt = 0, attempts = attempts + ?, updated_at = ? WHERE send_id IN ({marks}) "
                        "AND state = 'planned' RETURNING send_id",
                        [batch_id, when, int(count_attempt), now, *chunk],
                    ).fetchall()
                    claimed.extend(r[0] for r in rows)
        order = {sid: i for i, sid in enumerate(send_ids)}
        return sorted(claimed, key=order.__getitem__)

    def record_attempt(self, send_ids: Sequence[str], batch_id: str) -> None:
        """Count a POST attempt; also refreshes updated_at, the lease recovery respects."""
        with self._transaction("record_attempt") as conn:
            for chunk in _chunks(list(send_ids)):
                marks = ", ".join("?" * len(chunk))
                conn.execute(
                    "UPDATE send_ledger SET attempts = attempts + 1, updated_at = ? "
                    f"WHERE state = 'in_flight' AND batch_id = ? AND send_id IN ({marks})",
                    [self._now(), batch_id, *chunk],
                )

    def rebatch(self, send_ids: Sequence[str], old_batch_id: str, new_batch_id: str) -> int:
        """Move in-flight rows to a fresh batch after their old batch was cancelled."""
        return self._transition(
            send_ids,
            op="rebatch",
            to_state="in_flight",
            from_states=("in_flight",),
            batch_id=old_batch_id,
            sets={"batch_id": new_batch_id, "in_doubt": 0},
        )

    def mark_accepted(self, send_ids: Sequence[str], batch_id: str) -> int:
        return self._transition(
            send_ids,
            op="mark_accepted",
            to_state="accepted",
            from_states=("in_flight",),
            batch_id=batch_id,
            sets={"accepted_at": self._now(), "last_error": None, "in_doubt": 0},
        )

    def mark_failed(self, send_ids: Sequence[str], reason: str, batch_id: str | None = None) -> int:
        """Fail rows with a reason (the provider's words, never an address or a body).

        Without a batch id this also fails still-planned rows (a local check refused them).
        """
        return self._transition(
            send_ids,
            op="mark_failed",
            to_state="failed",
            from_states=("in_flight",) if batch_id is not None else ("planned", "in_flight"),
            batch_id=batch_id,
            sets={"last_error": reason, "in_doubt": 0},
        )

    def mark_in_doubt(self, send_ids: Sequence[str], batch_id: str, reason: str) -> int:
        """Flag in-flight rows whose fate is unknown; they are reported, never resent blindly."""
        return self._transition(
            send_ids,
            op="mark_in_doubt",
            to_state="in_flight",
            from_states=("in_flight",),
            batch_id=batch_id,
            sets={"in_doubt": 1, "last_error": reason},
        )

    def release(self, send_ids: Sequence[str], batch_id: str | None, reason: str | None = None) -> int:
        """Return in-flight rows to planned: the provider is known not to have (or to drop) them."""
        return self._transition(
            send_ids,
            op="release",
            to_state="planned",
            from_states=("in_flight",),
            batch_id=batch_id,
            sets={"batch_id": None, "send_at": None, "in_doubt": 0, "last_error": reason},
        )

    def cancel(self, send_ids: Sequence[str], reason: str) -> int:
        """Withdraw planned rows on purpose (e.g. a campaign stopped before sending)."""
        return self._transition(
            send_ids, op="cancel", to_state="cancelled", from_states=("planned",), sets={"last_error": reason}
        )

    def requeue_failed(self, run_date: str | date, send_ids: Sequence[str] | None = None) -> int:
        """Let an operator retry failed rows of a run date (all, or the given ids)."""
        ids = send_ids if send_ids is not None else [r.send_id for r in self.rows(run_date, state="failed")]
        return self._transition(
            ids, op="requeue_failed", to_state="planned", from_states=("failed",), sets={"batch_id": None}
        )

    # -- reading -------------------------------------------------------------

    def rows(
        self,
        run_date: str | date | None = None,
        *,
        state: str | None = None,
        send_ids: Sequence[str] | None = None,
    ) -> list[LedgerRow]:
        """Rows for a run date (or all), optionally by state or id, in send_id order."""
        where: list[str] = []
        params: list[Any] = []
        if run_date is not None:
            where.append("run_date = ?")
            params.append(_iso_date(run_date))
        if state is not None:
            where.append("state = ?")
            params.append(state)
        out: list[LedgerRow] = []
        id_chunks: list[Sequence[str] | None] = (
            list(_chunks(list(send_ids))) if send_ids is not None else [None]
        )
        with self._connect() as conn:
            for chunk in id_chunks:
                clauses = list(where)
                chunk_params = list(params)
                if chunk is not None:
                    clauses.append(f"send_id IN ({', '.join('?' * len(chunk))})")
                    chunk_params.extend(chunk)
                sql = "SELECT * FROM send_ledger"
                if clauses:
                    sql += " WHERE " + " AND ".join(clauses)
                for r in conn.execute(sql + " ORDER BY send_id", chunk_params):
                    out.append(LedgerRow(**{**dict(r), "in_doubt": bool(r["in_doubt"])}))
        return out

    def states(self, send_ids: Sequence[str]) -> dict[str, str]:
        """Current state of each known id."""
        out: dict[str, str] = {}
        with self._connect() as conn:
            for chunk in _chunks(list(send_ids)):
                marks = ", ".join("?" * len(chunk))
                sql = f"SELECT send_id, state FROM send_ledger WHERE send_id IN ({marks})"
                out.update((r[0], r[1]) for r in conn.execute(sql, list(chunk)))
        return out

    def counts(self, run_date: str | date | None = None) -> dict[str, int]:
        """Rows per state (every state present, zeros included), plus `in_doubt`."""
        sql = "SELECT state, COUNT(*), SUM(in_doubt) FROM send_ledger"
        params: list[Any] = []
        if run_date is not None:
            sql += " WHERE run_date = ?"
            params.append(_iso_date(run_date))
        counts = dict.fromkeys(STATES, 0) | {"in_doubt": 0}
        with self._connect() as conn:
            for state, n, doubt in conn.execute(sql + " GROUP BY state", params):
                counts[state] = int(n)
                counts["in_doubt"] += int(doubt or 0)
        return counts

    def stale_in_flight(self, run_dates: Sequence[str | date], older_than_seconds: float) -> list[LedgerRow]:
        """In-flight rows nobody has touched for a while: left behind by a crashed sender.

        Live senders refresh updated_at on every attempt, so their rows stay fresh.
        """
        cutoff = datetime.fromtimestamp(self._clock() - older_than_seconds, tz=UTC).isoformat(
            timespec="microseconds"
        )
        dates = [_iso_date(d) for d in run_dates]
        if not dates:
            return []
        with self._connect() as conn:
            rows = conn.execute(
                # The partial index holds only in-flight rows; the planner, without statistics,
                # would rather walk the whole day through the run_date index.
                "SELECT * FROM send_ledger INDEXED BY send_ledger_in_flight WHERE state = 'in_flight' "
                f"AND updated_at <= ? AND run_date IN ({', '.join('?' * len(dates))}) "
                "ORDER BY batch_id, send_id",
                [cutoff, *dates],
            ).fetchall()
        return [LedgerRow(**{**dict(r), "in_doubt": bool(r["in_doubt"])}) for r in rows]

    # -- privacy -------------------------------------------------------------

    def erase_customers(self, customer_ids: Sequence[str]) -> dict[str, int]:
        """Blank an erased person's personal fields in one transaction; send ids and states stay.

        Exactly-once rests on send ids and states, so those are kept: a rerun still
        finds the row and sends nothing. Every other column that is not bookkeeping
        (today customer_id and last_error, which may quote a provider's words) is
        blanked, so a column added later is blanked too. Still-planned rows are
        cancelled: nobody may mail an erased person. Deleted bytes are zeroed
        (secure_delete) and the WAL is checkpointed so old page images go too.
        Returns {"cancelled": n, "blanked": n}; a second call finds nothing.
        """
        ids = sorted({str(c).strip() for c in customer_ids if c is not None and str(c).strip()})
        if not ids:
            return {"cancelled": 0, "blanked": 0}
        cancelled = blanked = 0
        with self._connect() as conn:
            columns = conn.execute("PRAGMA table_info(send_ledger)").fetchall()
            sets, params = [], []
            for _, name, _, not_null, _, _ in columns:
                if name in _LEDGER_BOOKKEEPING:
                    continue
                sets.append(f"{name} = ?")
                params.append(_ERASED_VALUES.get(name, "" if not_null else None))
            with erasing_transaction(conn):
                for chunk in _chunks(ids):
                    marks = ", ".join("?" * len(chunk))
                    cancelled += conn.execute(
                        f"UPDATE send_ledger SET state = 'cancelled', updated_at = ? "
                        f"WHERE state = 'planned' AND customer_id IN ({marks})",
                        [self._now(), *chunk],
                    ).rowcount
                    blanked += conn.execute(
                        f"UPDATE send_ledger SET {', '.join(sets)} WHERE customer_id IN ({marks})",
                        [*params, *chunk],
                    ).rowcount
        return {"cancelled": cancelled, "blanked": blanked}
