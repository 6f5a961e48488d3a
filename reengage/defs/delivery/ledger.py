"""The send ledger: one row per (customer, campaign, run date, channel), the memory of exactly-once sends.

SQLite in WAL mode with synchronous=FULL: every state change is its own durable
commit, so a crash at any point leaves a row in a state that says what is known.
State changes are guarded by the state (and batch id) they expect, so a stale or
concurrent process can never move a row it does not own; claims use
`BEGIN IMMEDIATE` so two processes cannot claim the same planned row.

States:
    planned    known, not yet handed to the provider
    held       intentionally not sent (e.g. holdout arm); never sent by the sender
    in_flight  claimed under a batch id by a sender (`claimed_by`); a request may be on
               its way. `in_doubt=1` marks rows whose request may have reached the
               provider while the cancel that would settle them is not confirmed yet
    accepted   the provider answered 2xx
    failed     the provider refused it, with its reason (a permanent answer, never a
               transient error that ran out of retries)
    expired    its send window closed before it could be sent, or it was in doubt when
               cancelling was no longer possible; `last_error` says which, and whether
               the provider may have it
    cancelled  withdrawn on purpose before acceptance

Besides the contract in docs/architecture.md the table keeps `send_at` (the unix time
the message is meant to go out, then the one the provider was asked for: recovery needs
it to know whether a batch can still be cancelled), `send_by` (the latest send time its
window allows), `claimed_by` (the sender holding it in flight) and `in_doubt`.
Two more tables: `senders` (one row per sender process, the lease that tells a later
run whether an in-flight row's sender is gone) and `cancel_places` (the account's ten
cancel/pause places this ledger's senders hold or have reserved).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path
from typing import Any

from reengage.defs.delivery.crashpoints import crashpoint
from reengage.send_ids import UNNAMED_CHANNEL, iso_date, send_id
from reengage.sqlite_pool import SQLitePool, erasing_transaction, immediate_transaction

STATES = ("planned", "in_flight", "accepted", "failed", "expired", "cancelled", "held")
# The states in which a message went, or may still go, out: caps and cooldowns count them. Held-out
# winners count too, as if sent; the policy reads those from the intervention list.
COUNTED_STATES = ("planned", "in_flight", "accepted")

_TABLE = f"""
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
    in_doubt INTEGER NOT NULL DEFAULT 0,
    send_by INTEGER,
    claimed_by TEXT,
    channel TEXT NOT NULL DEFAULT 'email'
)"""
# Added by `_migrate` to ledgers written before channels, whose rows are all emails.
_CHANNEL_COLUMN = "channel TEXT NOT NULL DEFAULT 'email'"
# Indexes that state changes do not touch (run_date never changes), or touch only while a
# row is in flight (a few thousand entries at most): a (run_date, state) index moved every
# row twice per send inside one ever-growing tree, the ledger's largest cost per message.
_INDEXES = (
    "CREATE INDEX IF NOT EXISTS send_ledger_run_date ON send_ledger (run_date)",
    "CREATE INDEX IF NOT EXISTS send_ledger_in_flight ON send_ledger (run_date) WHERE state = 'in_flight'",
    "CREATE INDEX IF NOT EXISTS send_ledger_batch ON send_ledger (batch_id) WHERE batch_id IS NOT NULL",
)
_SCHEMA = f"""
{_TABLE};
DROP INDEX IF EXISTS send_ledger_run_date_state;
DROP INDEX IF EXISTS send_ledger_batch_id;
{";".join(_INDEXES)};
CREATE TABLE IF NOT EXISTS senders (
    sender_id TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    pid_started TEXT,           -- the process's start time, so a reused pid is not taken for it
    run_id TEXT,                -- the Dagster run (or command) the sender worked for
    started_at REAL NOT NULL,
    heartbeat_at REAL NOT NULL,
    finished_at REAL
);
CREATE TABLE IF NOT EXISTS cancel_places (
    batch_id TEXT PRIMARY KEY,
    state TEXT NOT NULL CHECK (state IN ('reserved', 'held')),
    sender_id TEXT,
    taken_at REAL NOT NULL,
    frees_at INTEGER            -- held: when the cancelled batch's last send time is past
);
"""

# SQLite's default host-parameter limit is 32766; stay far below it per statement.
_CHUNK = 900

# What an erased person's customer_id becomes; the columns erasure keeps (ids, states, times).
ERASED_MARKER = "erased"
_ERASED_VALUES = {"customer_id": ERASED_MARKER, "last_error": "erased at the customer's request"}
_LEDGER_BOOKKEEPING = frozenset(
    "send_id run_date campaign_id variant state batch_id attempts planned_at updated_at accepted_at "
    "send_at in_doubt send_by claimed_by channel".split()
)


class NoCancelPlace(Exception):
    """Every cancel place this ledger may use is held or reserved: wait for one to free."""


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
    send_by: int | None = None
    claimed_by: str | None = None
    channel: str = "email"


@dataclass(frozen=True)
class SenderRow:
    """One sender process as it registered, with its last heartbeat (ledger clock)."""

    sender_id: str
    host: str
    pid: int
    pid_started: str | None
    run_id: str | None
    started_at: float
    heartbeat_at: float
    finished_at: float | None


@dataclass(frozen=True)
class CancelPlace:
    """One of the account's cancel/pause places: reserved for a request in flight, or held by a cancel."""

    batch_id: str
    state: str
    sender_id: str | None
    taken_at: float
    frees_at: int | None


def _reserve_place(
    conn: sqlite3.Connection, batch_id: str, sender_id: str | None, now: float, limit: int
) -> None:
    """Inside a write transaction: reserve a cancel place for `batch_id`, or raise NoCancelPlace."""
    (taken,) = conn.execute("SELECT COUNT(*) FROM cancel_places").fetchone()
    if taken >= limit:
        raise NoCancelPlace(f"all {limit} cancel places are held or reserved")
    conn.execute(
        "INSERT OR IGNORE INTO cancel_places (batch_id, state, sender_id, taken_at) "
        "VALUES (?, 'reserved', ?, ?)",
        (batch_id, sender_id, now),
    )


def _drop_reservation(conn: sqlite3.Connection, batch_id: str) -> None:
    conn.execute("DELETE FROM cancel_places WHERE batch_id = ? AND state = 'reserved'", (batch_id,))


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
        self._migrate()

    def __repr__(self) -> str:
        return f"SendLedger({str(self.path)!r})"

    def clock(self) -> float:
        """The ledger's time (unix seconds), in which heartbeats and row times are written."""
        return self._clock()

    # -- plumbing ------------------------------------------------------------

    def _migrate(self) -> None:
        """Bring a ledger written by earlier code to this schema, keeping every row.

        SQLite cannot widen a CHECK constraint in place, so a table without the `expired`
        state (or the send_by/claimed_by columns) is copied into a new one in a single
        transaction: a crash leaves either the old table or the new, never half of each.
        A ledger from before channels gains `channel` in place, every row an email (their send
        ids, hashed without a channel, are what email's ids still are).
        """
        with self._connect() as conn:
            if "'expired'" in self._table_sql(conn):
                self._add_channel(conn)
                return
            with immediate_transaction(conn):
                if "'expired'" in self._table_sql(conn):  # another process migrated it meanwhile
                    return
                old_columns = [r[1] for r in conn.execute("PRAGMA table_info(send_ledger)")]
                conn.execute(_TABLE.replace("send_ledger (", "send_ledger_migrating (", 1))
                new_columns = {r[1] for r in conn.execute("PRAGMA table_info(send_ledger_migrating)")}
                kept = ", ".join(c for c in old_columns if c in new_columns)
                conn.execute(f"INSERT INTO send_ledger_migrating ({kept}) SELECT {kept} FROM send_ledger")
                conn.execute("DROP TABLE send_ledger")
                conn.execute("ALTER TABLE send_ledger_migrating RENAME TO send_ledger")
                for statement in _INDEXES:
                    conn.execute(statement)

    @staticmethod
    def _add_channel(conn: sqlite3.Connection) -> None:
        def has_channel() -> bool:
            return "channel" in {r[1] for r in conn.execute("PRAGMA table_info(send_ledger)")}

        if has_channel():
            return
        with immediate_transaction(conn):
            if not has_channel():  # another process may have added it meanwhile
                conn.execute(f"ALTER TABLE send_ledger ADD COLUMN {_CHANNEL_COLUMN}")

    @staticmethod
    def _table_sql(conn: sqlite3.Connection) -> str:
        row = conn.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'send_ledger'"
        ).fetchone()
        return str(row[0])

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
        end_request: bool = False,
    ) -> int:
        """Move rows between states, only if they are where the caller believes they are.

        `end_request`: the request under `batch_id` is over, so the cancel place reserved
        for it is given back in the same commit.
        """
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
            if end_request and batch_id is not None:
                _drop_reservation(conn, batch_id)
        return changed

    # -- planning ------------------------------------------------------------

    def plan(self, rows: Iterable[Any]) -> int:
        """Record intended sends; rows already known are left exactly as they are.

        Each row (mapping or object) needs customer_id, campaign_id, run_date and may carry
        channel (a row without one is an email, as every row before channels was), variant,
        state ('planned' or 'held') and reason (kept in last_error for
        held rows). A given send_id must match the one computed from the key, which
        catches a stage that hashes differently. Returns how many rows were new.
        """
        now = self._now()
        values = []
        for row in rows:
            get = row.get if isinstance(row, Mapping) else partial(getattr, row)
            customer_id = str(get("customer_id", None))
            campaign_id = str(get("campaign_id", None))
            run_date = iso_date(get("run_date", None))
            channel = get("channel", None) or UNNAMED_CHANNEL
            computed = send_id(customer_id, campaign_id, run_date, channel)
            given = get("send_id", None)
            if given not in (None, "") and given != computed:
                raise ValueError(
                    f"send_id {given!r} does not match the id of (customer_id, campaign_id, run_date, "
                    f"channel) for campaign {campaign_id!r}, run date {run_date}, channel {channel!r}"
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
                    None,
                    None,
                    str(channel),
                )
            )
        return self._insert_planned(values)

    def plan_messages(self, messages: Sequence[Any], *, send_by: Sequence[int] | None = None) -> int:
        """`plan()` for outbound messages, whose send_id the message derived with `send_id()`.

        The sender's hot path: no re-hashing and no per-field lookups by name, so
        planning a million-message day costs little beyond the inserts themselves.
        Each message needs send_id, run_date (ISO), customer_id, campaign_id, channel, variant
        and send_at (unix time or None); `send_by` gives the end of each one's send window.
        """
        now = self._now()
        ends = send_by if send_by is not None else [None] * len(messages)
        # In input order (not sorted by send_id): rowids then follow the order requests
        # are grouped in, so each request's claim and acceptance touch neighbouring rows.
        return self._insert_planned(
            [
                (
                    m.send_id,
                    m.run_date,
                    m.customer_id,
                    m.campaign_id,
                    m.variant,
                    "planned",
                    None,
                    now,
                    now,
                    m.send_at,
                    end,
                    m.channel,
                )
                for m, end in zip(messages, ends, strict=True)
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
                     planned_at, updated_at, send_at, send_by, channel)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                values,
            )
            return conn.total_changes - before

    # -- sending -------------------------------------------------------------

    def claim(self, send_ids: Sequence[str], batch_id: str, **options: Any) -> list[str]:
        """The ids `claim_for_send` claimed (same options), in the order asked."""
        return list(self.claim_for_send(send_ids, batch_id, **options))

    def claim_for_send(
        self,
        send_ids: Sequence[str],
        batch_id: str,
        *,
        send_at: Mapping[str, int | None] | None = None,
        count_attempt: bool = False,
        claimed_by: str | None = None,
        place_limit: int | None = None,
    ) -> dict[str, int | None]:
        """Atomically take still-planned rows for one request under `batch_id`.

        Returns {send_id: send_by} for the rows actually claimed, in the order asked (a
        concurrent sender may have taken some); only those may be sent. `send_at` records
        when the provider will be asked to send each one, which decides later whether the
        batch is cancellable. `count_attempt` also counts the first POST (saving
        `record_attempt`'s commit). With `place_limit`, the same commit reserves a cancel
        place for the batch, or raises `NoCancelPlace` (claiming nothing) when all
        `place_limit` are taken: a request is only sent if it could be cancelled.
        """
        now = self._now()
        claimed: dict[str, int | None] = {}
        by_send_at: dict[int | None, list[str]] = {}
        for sid in dict.fromkeys(send_ids):
            by_send_at.setdefault((send_at or {}).get(sid), []).append(sid)
        with self._transaction("claim") as conn:
            if place_limit is not None:
                _reserve_place(conn, batch_id, claimed_by, self._clock(), place_limit)
            # One statement per chunk (rows sharing a send_at, usually all of them), not per row.
            for when, ids in by_send_at.items():
                for chunk in _chunks(ids):
                    marks = ", ".join("?" * len(chunk))
                    rows = conn.execute(
                        "UPDATE send_ledger SET state = 'in_flight', batch_id = ?, send_at = ?, "
                        "in_doubt = 0, claimed_by = ?, attempts = attempts + ?, updated_at = ? "
                        f"WHERE send_id IN ({marks}) AND state = 'planned' RETURNING send_id, send_by",
                        [batch_id, when, claimed_by, int(count_attempt), now, *chunk],
                    ).fetchall()
                    claimed.update((r[0], r[1]) for r in rows)
            if place_limit is not None and not claimed:
                _drop_reservation(conn, batch_id)
        return {sid: claimed[sid] for sid in dict.fromkeys(send_ids) if sid in claimed}

    def record_attempt(self, send_ids: Sequence[str], batch_id: str) -> list[str]:
        """Count a POST attempt; returns the rows still in flight under `batch_id`, the only ones to send.

        A row another sender has since recovered (cancelled and requeued, or expired) is
        no longer this request's: the caller drops it instead of posting it again.
        """
        owned: list[str] = []
        with self._transaction("record_attempt") as conn:
            for chunk in _chunks(list(send_ids)):
                marks = ", ".join("?" * len(chunk))
                rows = conn.execute(
                    "UPDATE send_ledger SET attempts = attempts + 1, updated_at = ? "
                    f"WHERE state = 'in_flight' AND batch_id = ? AND send_id IN ({marks}) RETURNING send_id",
                    [self._now(), batch_id, *chunk],
                ).fetchall()
                owned.extend(r[0] for r in rows)
        return owned

    def rebatch(
        self,
        send_ids: Sequence[str],
        old_batch_id: str,
        new_batch_id: str,
        *,
        send_at: Mapping[str, int | None] | None = None,
        place_limit: int | None = None,
        sender_id: str | None = None,
    ) -> list[str]:
        """Move in-flight rows to a fresh batch (their old one is cancelled, or never reached the
        provider); returns the ids moved, the only ones the caller still owns.

        `send_at` gives the rows new send times. With `place_limit` the new batch needs a
        cancel place: the old batch's reservation moves to it if the old batch did not
        need its place, else a new one is reserved, or `NoCancelPlace` is raised and
        nothing moves.
        """
        moved: list[str] = []
        by_send_at: dict[int | None, list[str]] = {}
        for sid in dict.fromkeys(send_ids):
            by_send_at.setdefault((send_at or {}).get(sid), []).append(sid)
        with self._transaction("rebatch") as conn:
            if place_limit is not None:
                kept = conn.execute(
                    "UPDATE cancel_places SET batch_id = ? WHERE batch_id = ? AND state = 'reserved'",
                    (new_batch_id, old_batch_id),
                ).rowcount
                if not kept:
                    _reserve_place(conn, new_batch_id, sender_id, self._clock(), place_limit)
            for when, ids in by_send_at.items():
                for chunk in _chunks(ids):
                    marks = ", ".join("?" * len(chunk))
                    keep_send_at = "send_at" if send_at is None else "?"
                    rows = conn.execute(
                        f"UPDATE send_ledger SET batch_id = ?, send_at = {keep_send_at}, in_doubt = 0, "
                        f"updated_at = ? WHERE send_id IN ({marks}) AND state = 'in_flight' AND batch_id = ? "
                        "RETURNING send_id",
                        [
                            new_batch_id,
                            *([] if send_at is None else [when]),
                            self._now(),
                            *chunk,
                            old_batch_id,
                        ],
                    ).fetchall()
                    moved.extend(r[0] for r in rows)
            if place_limit is not None and not moved:
                _drop_reservation(conn, new_batch_id)
        order = {sid: i for i, sid in enumerate(send_ids)}
        return sorted(moved, key=order.__getitem__)

    def mark_accepted(self, send_ids: Sequence[str], batch_id: str) -> int:
        return self._transition(
            send_ids,
            op="mark_accepted",
            to_state="accepted",
            from_states=("in_flight",),
            batch_id=batch_id,
            sets={"accepted_at": self._now(), "last_error": None, "in_doubt": 0},
            end_request=True,
        )

    def mark_failed(
        self, send_ids: Sequence[str], reason: str, batch_id: str | None = None, *, end_request: bool = False
    ) -> int:
        """Fail rows with the provider's reason (its words, never an address or a body).

        Without a batch id this also fails still-planned rows (a local check refused them).
        """
        return self._transition(
            send_ids,
            op="mark_failed",
            to_state="failed",
            from_states=("in_flight",) if batch_id is not None else ("planned", "in_flight"),
            batch_id=batch_id,
            sets={"last_error": reason, "in_doubt": 0},
            end_request=end_request,
        )

    def expire(
        self, send_ids: Sequence[str], reason: str, batch_id: str | None = None, *, end_request: bool = False
    ) -> int:
        """Give rows up for good, with the reason: their send window closed, or they were in doubt
        when cancelling was no longer possible. Without a batch id only planned rows move."""
        return self._transition(
            send_ids,
            op="expire",
            to_state="expired",
            from_states=("in_flight",) if batch_id is not None else ("planned",),
            batch_id=batch_id,
            sets={"last_error": reason, "in_doubt": 0},
            end_request=end_request,
        )

    def mark_in_doubt(self, send_ids: Sequence[str], batch_id: str, reason: str) -> int:
        """Flag in-flight rows whose request may have reached the provider; never resent before
        their batch is confirmed cancelled."""
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
            sets={"batch_id": None, "send_at": None, "in_doubt": 0, "last_error": reason, "claimed_by": None},
            end_request=True,
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

    # -- cancel places -------------------------------------------------------

    def hold_place(self, batch_id: str, frees_at: int, limit: int, sender_id: str | None) -> None:
        """A cancel of `batch_id` is about to be asked for: its place is held until `frees_at`.

        The request's reservation becomes the held place; a batch without one (left by a
        crashed sender) takes a free place, or `NoCancelPlace` is raised.
        """
        with self._transaction("hold_place") as conn:
            row = conn.execute("SELECT state FROM cancel_places WHERE batch_id = ?", (batch_id,)).fetchone()
            if row is None:
                _reserve_place(conn, batch_id, sender_id, self._clock(), limit)
            conn.execute(
                "UPDATE cancel_places SET state = 'held', frees_at = MAX(COALESCE(frees_at, 0), ?) "
                "WHERE batch_id = ?",
                (frees_at, batch_id),
            )

    def free_place(self, batch_id: str) -> None:
        """The place is free again: no status was set, or the provider deleted it."""
        with self._transaction("free_place") as conn:
            conn.execute("DELETE FROM cancel_places WHERE batch_id = ?", (batch_id,))

    def cancel_places(self) -> list[CancelPlace]:
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT batch_id, state, sender_id, taken_at, frees_at FROM cancel_places ORDER BY taken_at"
            ).fetchall()
        return [CancelPlace(*r) for r in rows]

    def drop_stray_reservations(self, live_senders: Sequence[str], cancellable_from: float) -> int:
        """Forget the reservations of senders that are gone, unless their batch may still need a cancel:
        a row of it still in flight with a send time at or after `cancellable_from`."""
        marks = ", ".join("?" * len(live_senders)) or "NULL"
        with self._transaction("drop_stray_reservations") as conn:
            return conn.execute(
                "DELETE FROM cancel_places WHERE state = 'reserved' "
                f"AND (sender_id IS NULL OR sender_id NOT IN ({marks})) AND batch_id NOT IN "
                "(SELECT batch_id FROM send_ledger INDEXED BY send_ledger_in_flight "
                "WHERE state = 'in_flight' AND batch_id IS NOT NULL AND send_at >= ?)",
                [*live_senders, cancellable_from],
            ).rowcount

    # -- senders -------------------------------------------------------------

    def register_sender(
        self, sender_id: str, *, host: str, pid: int, pid_started: str | None, run_id: str | None
    ) -> None:
        now = self._clock()
        with self._transaction("register_sender") as conn:
            conn.execute(
                "INSERT INTO senders (sender_id, host, pid, pid_started, run_id, started_at, heartbeat_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (sender_id, host, pid, pid_started, run_id, now, now),
            )

    def heartbeat(self, sender_id: str) -> None:
        with self._transaction("heartbeat") as conn:
            conn.execute(
                "UPDATE senders SET heartbeat_at = ? WHERE sender_id = ?", (self._clock(), sender_id)
            )

    def finish_sender(self, sender_id: str) -> None:
        """The sender is done: its rows still in flight (cancel unconfirmed) are recoverable at once."""
        with self._transaction("finish_sender") as conn:
            conn.execute("UPDATE senders SET finished_at = ? WHERE sender_id = ?", (self._clock(), sender_id))
            conn.execute(
                "DELETE FROM cancel_places WHERE state = 'reserved' AND sender_id = ? AND batch_id NOT IN "
                "(SELECT batch_id FROM send_ledger INDEXED BY send_ledger_in_flight "
                "WHERE state = 'in_flight' AND batch_id IS NOT NULL)",
                (sender_id,),
            )

    def senders(self, sender_ids: Sequence[str] | None = None) -> list[SenderRow]:
        """Registered senders (all, or the given ids), oldest first."""
        sql = "SELECT * FROM senders"
        params: list[Any] = []
        if sender_ids is not None:
            sql += f" WHERE sender_id IN ({', '.join('?' * len(sender_ids)) or 'NULL'})"
            params = list(sender_ids)
        with self._connect() as conn:
            conn.row_factory = sqlite3.Row
            rows = conn.execute(sql + " ORDER BY started_at", params).fetchall()
        return [SenderRow(**dict(r)) for r in rows]

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
            params.append(iso_date(run_date))
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

    def planned_send_by(self, send_ids: Sequence[str]) -> dict[str, tuple[int | None, str]]:
        """{send_id: (send_by, planned_at)} of the given rows that are still planned."""
        out: dict[str, tuple[int | None, str]] = {}
        with self._connect() as conn:
            for chunk in _chunks(list(send_ids)):
                marks = ", ".join("?" * len(chunk))
                sql = (
                    f"SELECT send_id, send_by, planned_at FROM send_ledger WHERE send_id IN ({marks}) "
                    "AND state = 'planned'"
                )
                out.update((r[0], (r[1], r[2])) for r in conn.execute(sql, list(chunk)))
        return out

    def planned_windows(self, run_date: str | date) -> list[tuple[str, int | None, str]]:
        """(send_id, send_by, planned_at) of a run date's planned rows, to find those whose window closed."""
        with self._connect() as conn:
            return conn.execute(
                "SELECT send_id, send_by, planned_at FROM send_ledger "
                "WHERE run_date = ? AND state = 'planned'",
                [iso_date(run_date)],
            ).fetchall()

    def settlement(self, run_date: str | date, horizon: float) -> dict[str, int]:
        """What is not settled yet on a run date: rows in flight (of which in doubt) and planned rows,
        split into those due now and those meant to go out after `horizon` (too far ahead to hand
        over yet, a later run sends them)."""
        with self._connect() as conn:
            row = conn.execute(
                """
                SELECT
                    COUNT(*) FILTER (WHERE state = 'in_flight' AND in_doubt = 0),
                    COUNT(*) FILTER (WHERE state = 'in_flight' AND in_doubt = 1),
                    COUNT(*) FILTER (WHERE state = 'planned' AND (send_at IS NULL OR send_at <= ?)),
                    COUNT(*) FILTER (WHERE state = 'planned' AND send_at > ?)
                FROM send_ledger WHERE run_date = ?
                """,
                [horizon, horizon, iso_date(run_date)],
            ).fetchone()
        return dict(zip(("in_flight", "in_doubt", "planned", "planned_later"), map(int, row), strict=True))

    def counts(self, run_date: str | date | None = None) -> dict[str, int]:
        """Rows per state (every state present, zeros included), plus `in_doubt`."""
        sql = "SELECT state, COUNT(*), SUM(in_doubt) FROM send_ledger"
        params: list[Any] = []
        if run_date is not None:
            sql += " WHERE run_date = ?"
            params.append(iso_date(run_date))
        counts = dict.fromkeys(STATES, 0) | {"in_doubt": 0}
        with self._connect() as conn:
            for state, n, doubt in conn.execute(sql + " GROUP BY state", params):
                counts[state] = int(n)
                counts["in_doubt"] += int(doubt or 0)
        return counts

    def in_flight(
        self, run_dates: Sequence[str | date], *, untouched_for: float | None = None
    ) -> list[LedgerRow]:
        """In-flight rows of the run dates, by batch (with `untouched_for`, only those not updated
        for that many seconds): what recovery looks at."""
        dates = [iso_date(d) for d in run_dates]
        if not dates:
            return []
        cutoff = "9999"  # sorts after every ISO time: no row is too fresh
        if untouched_for is not None:
            since = datetime.fromtimestamp(self._clock() - untouched_for, tz=UTC)
            cutoff = since.isoformat(timespec="microseconds")
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

    def stale_in_flight(self, run_dates: Sequence[str | date], older_than_seconds: float) -> list[LedgerRow]:
        """In-flight rows nobody has touched for a while: left behind by a crashed sender that
        predates sender leases (live senders refresh updated_at on every attempt)."""
        return self.in_flight(run_dates, untouched_for=older_than_seconds)

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
