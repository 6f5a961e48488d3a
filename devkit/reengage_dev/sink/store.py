"""The sink's durable memory: every accepted recipient-message and every batch.

SQLite in WAL mode with synchronous=FULL, and the write commits before the HTTP
handler answers 202, so an acknowledged request survives a crash of the sink.
Tests (possibly in another process) read the same file through this class to check
exactly-once delivery: `count_by_send_id()` is the ground truth a sender is judged by.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from reengage.sqlite_pool import SQLitePool, erasing_transaction, immediate_transaction
from reengage_dev.sink.rendering import Delivered

CANCEL_WINDOW_SECONDS = 600
MAX_PENDING_BATCH_STATUSES = 10
# A paused batch keeps its mail past send_at; SendGrid discards it as Expired 72 hours after.
PAUSE_KEEPS_SECONDS = 72 * 3600

_SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    batch_id TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    status TEXT,                -- NULL, 'cancel' or 'pause' (SendGrid's scheduled_sends status)
    status_updated_at REAL
);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    x_message_id TEXT NOT NULL,
    sg_message_id TEXT NOT NULL UNIQUE,
    batch_id TEXT,
    send_id TEXT,
    customer_id TEXT,
    campaign_id TEXT,
    variant TEXT,
    run_date TEXT,
    email TEXT NOT NULL,
    send_at INTEGER,
    status TEXT NOT NULL,       -- 'accepted', 'cancelled', 'expired' (paused too long) or 'sandbox'
    received_at REAL NOT NULL,
    custom_args TEXT NOT NULL
    -- and DELIVERED_COLUMNS, added by SinkStore to files made before they existed
);
-- Every cancel, pause or resume asked for, with the answer: tests check a sender against it.
CREATE TABLE IF NOT EXISTS status_requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    batch_id TEXT,
    requested TEXT,             -- 'cancel', 'pause' or NULL (resume: the status deleted)
    http_status INTEGER NOT NULL,
    message TEXT,               -- the error message answered, if any
    in_effect INTEGER NOT NULL  -- statuses holding one of the ten places after the answer
);
-- No index on send_id: nothing looks a message up by it, and random ids made every
-- 1,000-recipient request dirty ~1,000 index pages (megabytes of WAL) on a big store.
DROP INDEX IF EXISTS messages_send_id;
CREATE INDEX IF NOT EXISTS messages_batch_id ON messages (batch_id);
CREATE INDEX IF NOT EXISTS messages_run_date ON messages (run_date);
"""


# What the recipient receives (rendering.py): subject and content with the substitutions applied,
# or the dynamic template and its data. Personal data: erased with the message.
DELIVERED_COLUMNS = ("subject", "content", "template_id", "template_data")


@dataclass(frozen=True)
class StoredMessage:
    """One recipient of one accepted request, as the sink recorded it, with what they receive:
    `subject` and `content` (MIME type -> body) as delivered, or the dynamic `template_id` and
    the `template_data` SendGrid renders it from. Messages stored before the sink kept
    content have None there."""

    x_message_id: str
    sg_message_id: str
    batch_id: str | None
    send_id: str | None
    customer_id: str | None
    campaign_id: str | None
    variant: str | None
    run_date: str | None
    email: str
    send_at: int | None
    status: str
    received_at: float
    custom_args: dict[str, str]
    subject: str | None = None
    content: dict[str, str] | None = None
    template_id: str | None = None
    template_data: dict[str, Any] | None = None

    def __repr__(self) -> str:  # keep addresses out of test failure output and logs
        return (
            f"StoredMessage(sg_message_id={self.sg_message_id!r}, send_id={self.send_id!r}, "
            f"status={self.status!r})"
        )


class Recipient(NamedTuple):
    """What the HTTP layer hands the store for one recipient of a request.

    A named tuple: a request brings up to 1,000 of them, and a plain
    `(email, send_at, custom_args)` tuple (nothing known of its content) is accepted as well.
    """

    email: str
    send_at: int | None
    custom_args: dict[str, str]
    delivered: Delivered = Delivered(None, None, None, None)


# One encoder for every row: `json.dumps(..., sort_keys=True)` builds a new one per call.
_encode_args = json.JSONEncoder(sort_keys=True).encode


def _decode(text: str | None) -> Any:
    return None if text is None else json.loads(text)


class BatchStatusError(Exception):
    """A cancel/pause SendGrid would refuse; the message is safe to return to a client."""


class SinkStore:
    """Thread-safe, multi-process-safe access to the sink's SQLite file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._db = SQLitePool(self.path, _SCHEMA, busy_timeout_seconds=30, cache_mib=32)
        self._add_delivered_columns()

    def __repr__(self) -> str:
        return f"SinkStore({str(self.path)!r})"

    def _add_delivered_columns(self) -> None:
        """Files from before the sink kept what recipients receive get the columns (empty)."""
        with self._connect() as conn:
            have = {row[1] for row in conn.execute("PRAGMA table_info(messages)")}
            for column in DELIVERED_COLUMNS:
                if column in have:
                    continue
                try:
                    conn.execute(f"ALTER TABLE messages ADD COLUMN {column} TEXT")
                except sqlite3.OperationalError as err:  # another process added it meanwhile
                    if "duplicate column" not in str(err):
                        raise

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with self._db.connect() as conn:
            yield conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction: committed (durably) when the block exits cleanly."""
        with self._lock, self._connect() as conn, immediate_transaction(conn):
            yield conn

    # -- batches -------------------------------------------------------------

    def create_batch(self, batch_id: str, now: float) -> None:
        with self._write() as conn:
            conn.execute("INSERT INTO batches (batch_id, created_at) VALUES (?, ?)", (batch_id, now))

    def batch_exists(self, batch_id: str) -> bool:
        with self._connect() as conn:
            row = conn.execute("SELECT 1 FROM batches WHERE batch_id = ?", (batch_id,)).fetchone()
        return row is not None

    def batch_status(self, batch_id: str) -> str | None:
        """'cancel', 'pause' or None; KeyError if the batch was never created."""
        with self._connect() as conn:
            row = conn.execute("SELECT status FROM batches WHERE batch_id = ?", (batch_id,)).fetchone()
        if row is None:
            raise KeyError(batch_id)
        return row[0]

    def batch_statuses(self) -> list[dict[str, str]]:
        with self._connect() as conn:
            rows = conn.execute("SELECT batch_id, status FROM batches WHERE status IS NOT NULL").fetchall()
        return [{"batch_id": b, "status": s} for b, s in rows]

    def set_batch_status(self, batch_id: str, status: str | None, now: float) -> None:
        """Cancel, pause or (status None) resume a batch, within SendGrid's rules.

        A batch can be cancelled or paused only while every message in it is still at
        least 10 minutes from its send time; a message without send_at went out on
        arrival, so a batch holding one can never be cancelled. At most 10 batches may
        be cancelled or paused at once (see `statuses_in_effect`). Deleting a status is
        always allowed: mail whose send time has passed stays discarded (cancel) or, if
        paused more than 72 hours past it, expired; the rest is scheduled again.
        """
        with self._write() as conn:
            row = conn.execute("SELECT status FROM batches WHERE batch_id = ?", (batch_id,)).fetchone()
            if row is None:
                raise KeyError(batch_id)
            if status is not None:
                times = conn.execute(
                    "SELECT COALESCE(send_at, CAST(received_at AS INTEGER)) FROM messages WHERE batch_id = ?",
                    (batch_id,),
                ).fetchall()
                if times and min(t for (t,) in times) < now + CANCEL_WINDOW_SECONDS:
                    raise BatchStatusError(
                        "A batch can only be cancelled or paused until 10 minutes before its send_at."
                    )
                if row[0] is None and self._in_effect(conn, now) >= MAX_PENDING_BATCH_STATUSES:
                    n = MAX_PENDING_BATCH_STATUSES
                    raise BatchStatusError(f"You can't pause or cancel more than {n} batches at one time.")
            conn.execute(
                "UPDATE batches SET status = ?, status_updated_at = ? WHERE batch_id = ?",
                (status, now, batch_id),
            )
            if status == "cancel":
                conn.execute(
                    "UPDATE messages SET status = 'cancelled' WHERE batch_id = ? AND status = 'accepted'",
                    (batch_id,),
                )
            elif status is None and row[0] == "cancel":
                # Mail already past its send time was discarded; only what is still due comes back.
                conn.execute(
                    "UPDATE messages SET status = 'accepted' WHERE batch_id = ? AND status = 'cancelled' "
                    "AND COALESCE(send_at, received_at) > ?",
                    (batch_id, now),
                )
            elif status is None and row[0] == "pause":
                conn.execute(
                    "UPDATE messages SET status = 'expired' WHERE batch_id = ? AND status = 'accepted' "
                    "AND COALESCE(send_at, received_at) + ? <= ?",
                    (batch_id, PAUSE_KEEPS_SECONDS, now),
                )
            # pause (from nothing or from cancel) keeps the messages' status: the batch's status holds them

    def statuses_in_effect(self, now: float) -> int:
        """How many of the ten cancel/pause places are taken at `now`."""
        with self._connect() as conn:
            return self._in_effect(conn, now)

    @staticmethod
    def _in_effect(conn: sqlite3.Connection, now: float) -> int:
        """Cancelled or paused batches that still have something to act on.

        A cancel holds its place until its last message's send time has passed (SendGrid
        discards the mail then); a pause until 72 hours after it (the mail expires then).
        A batch that never received mail holds its place until the status is deleted:
        SendGrid does not say when an unused cancellation lapses, so the sink assumes never.
        """
        (count,) = conn.execute(
            """
            SELECT COUNT(*) FROM batches b
            WHERE b.status IS NOT NULL AND (
                NOT EXISTS (SELECT 1 FROM messages m WHERE m.batch_id = b.batch_id)
                OR EXISTS (
                    SELECT 1 FROM messages m WHERE m.batch_id = b.batch_id
                    AND COALESCE(m.send_at, m.received_at)
                        + CASE WHEN b.status = 'pause' THEN ? ELSE 0 END > ?
                )
            )
            """,
            (PAUSE_KEEPS_SECONDS, now),
        ).fetchone()
        return int(count)

    def log_status_request(
        self, batch_id: str | None, requested: str | None, http_status: int, message: str | None, now: float
    ) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO status_requests (at, batch_id, requested, http_status, message, in_effect) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (now, batch_id, requested, http_status, message, self._in_effect(conn, now)),
            )

    def status_requests(self) -> list[dict[str, Any]]:
        """Every cancel/pause/resume asked for, oldest first, with the answer and the places taken after."""
        with self._connect() as conn:
            conn.row_factory = sqlite3.Row
            rows = conn.execute("SELECT * FROM status_requests ORDER BY id").fetchall()
        return [dict(r) for r in rows]

    # -- messages ------------------------------------------------------------

    def record_request(
        self,
        x_message_id: str,
        batch_id: str | None,
        recipients: Sequence[Recipient],
        now: float,
        sandbox: bool = False,
    ) -> None:
        """Store all recipients of one accepted request in one durable transaction.

        A request naming a batch that is already cancelled is stored as cancelled,
        which is how SendGrid treats mail sent into a cancelled batch. The rows are
        built before the write lock is taken, so other requests wait only for the insert.
        """
        status = "sandbox" if sandbox else "accepted"
        rows = []
        for i, recipient in enumerate(recipients):
            email, send_at, args, delivered = Recipient(*recipient)
            get = args.get
            rows.append(
                (
                    x_message_id,
                    f"{x_message_id}.filter0001.{i}.0",
                    batch_id,
                    get("send_id"),
                    get("customer_id"),
                    get("campaign_id"),
                    get("variant"),
                    get("run_date"),
                    email,
                    send_at,
                    status,
                    now,
                    _encode_args(args),
                    *delivered,
                )
            )
        with self._write() as conn:
            if batch_id is not None and not sandbox:
                row = conn.execute("SELECT status FROM batches WHERE batch_id = ?", (batch_id,)).fetchone()
                if row is not None and row[0] == "cancel":
                    rows = [(*r[:10], "cancelled", *r[11:]) for r in rows]
            conn.executemany(
                """
                INSERT INTO messages (x_message_id, sg_message_id, batch_id, send_id, customer_id,
                    campaign_id, variant, run_date, email, send_at, status, received_at, custom_args,
                    subject, content, template_id, template_data)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                rows,
            )

    def messages(
        self, *, status: str | None = None, run_date: str | None = None, include_paused: bool = True
    ) -> list[StoredMessage]:
        """Stored recipient-messages, oldest first, optionally filtered."""
        sql = "SELECT m.* FROM messages m LEFT JOIN batches b ON b.batch_id = m.batch_id WHERE 1 = 1"
        params: list[Any] = []
        if status is not None:
            sql += " AND m.status = ?"
            params.append(status)
        if run_date is not None:
            sql += " AND m.run_date = ?"
            params.append(run_date)
        if not include_paused:
            sql += " AND (b.status IS NULL OR b.status != 'pause')"
        with self._connect() as conn:
            conn.row_factory = sqlite3.Row
            rows = conn.execute(sql + " ORDER BY m.id", params).fetchall()
        return [
            StoredMessage(
                x_message_id=r["x_message_id"],
                sg_message_id=r["sg_message_id"],
                batch_id=r["batch_id"],
                send_id=r["send_id"],
                customer_id=r["customer_id"],
                campaign_id=r["campaign_id"],
                variant=r["variant"],
                run_date=r["run_date"],
                email=r["email"],
                send_at=r["send_at"],
                status=r["status"],
                received_at=r["received_at"],
                custom_args=json.loads(r["custom_args"]),
                subject=r["subject"],
                content=_decode(r["content"]),
                template_id=r["template_id"],
                template_data=_decode(r["template_data"]),
            )
            for r in rows
        ]

    def count_by_send_id(self, status: str = "accepted") -> dict[str, int]:
        """How many stored messages carry each send_id: exactly-once means all ones."""
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT send_id, COUNT(*) FROM messages WHERE status = ? GROUP BY send_id", (status,)
            ).fetchall()
        return {send_id: n for send_id, n in rows}

    def duplicates(self, status: str = "accepted") -> dict[str, int]:
        """send_ids stored more than once with this status (should always be empty)."""
        return {k: n for k, n in self.count_by_send_id(status).items() if n > 1}

    def counts_by_status(self) -> dict[str, int]:
        with self._connect() as conn:
            rows = conn.execute("SELECT status, COUNT(*) FROM messages GROUP BY status").fetchall()
        return {s: n for s, n in rows}

    def request_count(self) -> int:
        """Distinct accepted requests (X-Message-Ids), e.g. to check batching."""
        with self._connect() as conn:
            (n,) = conn.execute("SELECT COUNT(DISTINCT x_message_id) FROM messages").fetchone()
        return int(n)

    def erase_recipients(self, emails: Sequence[str], customer_ids: Sequence[str]) -> int:
        """Delete every stored message to these addresses or customers, in one transaction.

        The local counterpart of SendGrid's Recipients' Data Erasure API
        (POST /v3/recipients/erasejob). Deleted bytes are zeroed (secure_delete) and
        the WAL is checkpointed, so the address is gone from the files too. Returns
        the messages removed; a second call removes none.
        """
        mails = sorted({e.strip().lower() for e in emails if e and e.strip()})
        ids = sorted({c.strip() for c in customer_ids if c and c.strip()})
        clauses, params = [], []
        if mails:
            clauses.append(f"lower(trim(email)) IN ({', '.join('?' * len(mails))})")
            params += mails
        if ids:
            clauses.append(f"customer_id IN ({', '.join('?' * len(ids))})")
            params += ids
        if not clauses:
            return 0
        with self._lock, self._connect() as conn, erasing_transaction(conn):
            removed = conn.execute(f"DELETE FROM messages WHERE {' OR '.join(clauses)}", params).rowcount
        return int(removed)
