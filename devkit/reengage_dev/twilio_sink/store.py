"""The Twilio sink's durable memory: every accepted text, its status history, STOP replies, opt-outs.

SQLite in WAL mode (reengage/sqlite_pool.py), and a create commits before the HTTP handler
answers 201, so an acknowledged message survives a crash of the sink. A message's life follows the
sink's clock: `scheduled` until its SendAt (or `queued` at once when not scheduled), then `queued`,
`sent` a second later and `delivered`, `undelivered` or `failed` after that (outcomes.py); a
canceled message never goes out. `advance(now, outcomes)` records every change due by `now`, each
at its own time, in `status_events`; the server advances before every read, so the API answers as
of its clock. The first advance past a message's final time fixes its outcome.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reengage.channels.sms_segments import segments
from reengage.sqlite_pool import SQLitePool, erasing_transaction, immediate_transaction
from reengage_dev.twilio_sink.outcomes import SENT_AFTER_SECONDS, Outcomes, draw
from reengage_dev.twilio_sink.validation import NewMessage

IN_FLIGHT = ("scheduled", "queued", "sent")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- creation order: the list's order and page token
    sid TEXT NOT NULL UNIQUE,
    account_sid TEXT NOT NULL,
    to_number TEXT NOT NULL,
    from_number TEXT,
    messaging_service_sid TEXT,
    body TEXT NOT NULL,
    num_segments INTEGER NOT NULL,
    status TEXT NOT NULL,        -- Twilio's message status
    send_at REAL,                -- set for a scheduled message
    status_callback TEXT,        -- kept as given; Twilio returns it nowhere
    validity_period INTEGER,
    date_created REAL NOT NULL,
    date_updated REAL NOT NULL,
    date_sent REAL,
    error_code INTEGER,
    stop_at REAL                 -- when the recipient replies STOP (drawn at delivery), if ever
);
CREATE INDEX IF NOT EXISTS messages_status ON messages (status);
CREATE INDEX IF NOT EXISTS messages_to ON messages (to_number);
-- Every status a message took, at the time it took it: what Twilio's status callbacks report.
CREATE TABLE IF NOT EXISTS status_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sid TEXT NOT NULL,
    status TEXT NOT NULL,
    at REAL NOT NULL,
    error_code INTEGER,
    UNIQUE (sid, status)
);
-- Inbound STOP replies (drawn from the outcomes' stop rate, or written by the demo world).
CREATE TABLE IF NOT EXISTS inbound (
    sid TEXT PRIMARY KEY,
    account_sid TEXT NOT NULL,
    from_number TEXT NOT NULL,   -- the recipient who replied
    to_number TEXT,              -- the sender they replied to
    messaging_service_sid TEXT,
    body TEXT NOT NULL,
    opt_out_type TEXT NOT NULL,
    at REAL NOT NULL
);
-- Numbers that replied STOP: a text to one is refused with 21610.
CREATE TABLE IF NOT EXISTS opt_outs (
    phone TEXT PRIMARY KEY,
    opted_out_at REAL NOT NULL
);
"""


def new_sid(prefix: str = "SM") -> str:
    return prefix + secrets.token_hex(16)


@dataclass(frozen=True)
class StoredText:
    """One message as the sink holds it (the API's Message resource is built from it)."""

    sid: str
    account_sid: str
    to: str
    from_: str | None
    messaging_service_sid: str | None
    body: str
    num_segments: int
    status: str
    send_at: float | None
    status_callback: str | None
    date_created: float
    date_updated: float
    date_sent: float | None
    error_code: int | None

    def __repr__(self) -> str:  # keep numbers and bodies out of test failure output and logs
        return f"StoredText(sid={self.sid!r}, status={self.status!r})"


def _text(row: sqlite3.Row) -> StoredText:
    return StoredText(
        sid=row["sid"],
        account_sid=row["account_sid"],
        to=row["to_number"],
        from_=row["from_number"],
        messaging_service_sid=row["messaging_service_sid"],
        body=row["body"],
        num_segments=row["num_segments"],
        status=row["status"],
        send_at=row["send_at"],
        status_callback=row["status_callback"],
        date_created=row["date_created"],
        date_updated=row["date_updated"],
        date_sent=row["date_sent"],
        error_code=row["error_code"],
    )


class CancelRefused(Exception):
    """The message is no longer scheduled (Twilio's 30409)."""


class TwilioSinkStore:
    """Thread-safe, multi-process-safe access to the Twilio sink's SQLite file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._db = SQLitePool(self.path, _SCHEMA, busy_timeout_seconds=30)

    def __repr__(self) -> str:
        return f"TwilioSinkStore({str(self.path)!r})"

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._db.connect() as conn:
            conn.row_factory = sqlite3.Row
            yield conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction: committed (durably) when the block exits cleanly."""
        with self._lock, self._db.connect() as conn, immediate_transaction(conn):
            conn.row_factory = sqlite3.Row
            yield conn

    # -- the API's verbs -----------------------------------------------------

    def create(self, account_sid: str, message: NewMessage, now: float) -> StoredText:
        """Store an accepted text: `scheduled` with a SendAt, else `queued` now."""
        sid = new_sid()
        status = "scheduled" if message.send_at is not None else "queued"
        with self._write() as conn:
            conn.execute(
                """
                INSERT INTO messages (sid, account_sid, to_number, from_number, messaging_service_sid, body,
                    num_segments, status, send_at, status_callback, validity_period, date_created,
                    date_updated)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                (
                    sid,
                    account_sid,
                    message.to,
                    message.from_,
                    message.messaging_service_sid,
                    message.body,
                    segments(message.body),
                    status,
                    message.send_at,
                    message.status_callback,
                    message.validity_period,
                    now,
                    now,
                ),
            )
            conn.execute("INSERT INTO status_events (sid, status, at) VALUES (?, ?, ?)", (sid, status, now))
        text = self.get(sid)
        assert text is not None
        return text

    def get(self, sid: str) -> StoredText | None:
        with self._read() as conn:
            row = conn.execute("SELECT * FROM messages WHERE sid = ?", (sid,)).fetchone()
        return None if row is None else _text(row)

    def cancel(self, sid: str, now: float) -> StoredText:
        """Cancel a scheduled message; CancelRefused once it is anything else, KeyError if unknown."""
        with self._write() as conn:
            row = conn.execute("SELECT status FROM messages WHERE sid = ?", (sid,)).fetchone()
            if row is None:
                raise KeyError(sid)
            if row["status"] != "scheduled":
                raise CancelRefused(sid)
            conn.execute(
                "UPDATE messages SET status = 'canceled', date_updated = ? WHERE sid = ?", (now, sid)
            )
            conn.execute("INSERT INTO status_events (sid, status, at) VALUES (?, 'canceled', ?)", (sid, now))
        text = self.get(sid)
        assert text is not None
        return text

    def page(
        self,
        account_sid: str,
        *,
        to: str | None = None,
        from_: str | None = None,
        sent_from: float | None = None,
        sent_until: float | None = None,
        after_seq: int | None = None,
        limit: int = 50,
    ) -> tuple[list[StoredText], int | None]:
        """Newest first, as Twilio lists: a page of texts and the seq the next page starts after
        (None on the last page). A date-sent bound leaves out texts not yet sent (no date_sent)."""
        sql = "SELECT * FROM messages WHERE account_sid = ?"
        params: list[Any] = [account_sid]
        for clause, value in (
            ("to_number = ?", to),
            ("from_number = ?", from_),
            ("date_sent >= ?", sent_from),
            ("date_sent <= ?", sent_until),
            ("seq < ?", after_seq),
        ):
            if value is not None:
                sql += f" AND {clause}"
                params.append(value)
        with self._read() as conn:
            rows = conn.execute(sql + " ORDER BY seq DESC LIMIT ?", [*params, limit + 1]).fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        return [_text(r) for r in rows], (rows[-1]["seq"] if more and rows else None)

    # -- time passing --------------------------------------------------------

    def advance(self, now: float, outcomes: Outcomes) -> int:
        """Record every status change due by `now`; the number of changes recorded."""
        changes = 0
        with self._write() as conn:
            rows = conn.execute(
                "SELECT * FROM messages WHERE status IN ('scheduled', 'queued', 'sent')"
            ).fetchall()
            for row in rows:
                changes += self._advance_one(conn, row, now, outcomes)
            due = conn.execute(
                "SELECT * FROM messages WHERE stop_at IS NOT NULL AND stop_at <= ? "
                "AND NOT EXISTS (SELECT 1 FROM opt_outs WHERE phone = to_number)",
                (now,),
            ).fetchall()
            for row in due:
                self._record_stop(conn, row)
                changes += 1
        return changes

    @staticmethod
    def _advance_one(conn: sqlite3.Connection, row: sqlite3.Row, now: float, outcomes: Outcomes) -> int:
        goes_out = row["send_at"] if row["send_at"] is not None else row["date_created"]
        if goes_out > now:
            return 0
        outcome = draw(outcomes, row["to_number"], row["body"], goes_out)
        sent_at = goes_out + SENT_AFTER_SECONDS
        final_at = sent_at + outcome.final_after
        steps = [
            ("queued", goes_out, None),
            ("sent", sent_at, None),
            (outcome.status, final_at, outcome.error_code),
        ]
        order = ("scheduled", "queued", "sent")
        done = order.index(row["status"])
        changes = 0
        for status, at, error_code in steps[done:]:
            if at > now:
                break
            conn.execute(
                "INSERT OR IGNORE INTO status_events (sid, status, at, error_code) VALUES (?, ?, ?, ?)",
                (row["sid"], status, at, error_code),
            )
            conn.execute(
                "UPDATE messages SET status = ?, date_updated = ?, error_code = ?, "
                "date_sent = CASE WHEN ? = 'sent' THEN ? ELSE date_sent END, stop_at = ? WHERE sid = ?",
                (
                    status,
                    at,
                    error_code,
                    status,
                    at,
                    final_at + outcome.stop_after
                    if status == "delivered" and outcome.stop_after is not None
                    else None,
                    row["sid"],
                ),
            )
            changes += 1
        return changes

    @staticmethod
    def _record_stop(conn: sqlite3.Connection, row: sqlite3.Row) -> None:
        conn.execute(
            "INSERT INTO inbound (sid, account_sid, from_number, to_number, messaging_service_sid, body, "
            "opt_out_type, at) VALUES (?, ?, ?, ?, ?, 'STOP', 'STOP', ?)",
            (
                new_sid(),
                row["account_sid"],
                row["to_number"],
                row["from_number"],
                row["messaging_service_sid"],
                row["stop_at"],
            ),
        )
        conn.execute(
            "INSERT OR IGNORE INTO opt_outs (phone, opted_out_at) VALUES (?, ?)",
            (row["to_number"], row["stop_at"]),
        )

    # -- opt-outs ------------------------------------------------------------

    def erase_numbers(self, phones: Sequence[str]) -> int:
        """Delete every text to these numbers, its status history, their STOP replies and opt-outs,
        in one transaction whose freed bytes are zeroed (erasing_transaction). Returns the rows
        removed; a second call removes none."""
        numbers = sorted({p.strip() for p in phones if p and p.strip()})
        if not numbers:
            return 0
        marks = ", ".join("?" * len(numbers))
        with self._lock, self._db.connect() as conn, erasing_transaction(conn):
            removed = conn.execute(
                "DELETE FROM status_events WHERE sid IN"
                f" (SELECT sid FROM messages WHERE to_number IN ({marks}))",
                numbers,
            ).rowcount
            removed += conn.execute(f"DELETE FROM messages WHERE to_number IN ({marks})", numbers).rowcount
            removed += conn.execute(f"DELETE FROM inbound WHERE from_number IN ({marks})", numbers).rowcount
            removed += conn.execute(f"DELETE FROM opt_outs WHERE phone IN ({marks})", numbers).rowcount
        return int(removed)

    def add_opt_out(self, phone: str, at: float) -> None:
        """A number replied STOP (the demo world writes its people's replies here)."""
        with self._write() as conn:
            conn.execute("INSERT OR IGNORE INTO opt_outs (phone, opted_out_at) VALUES (?, ?)", (phone, at))

    def opted_out(self, phone: str) -> bool:
        with self._read() as conn:
            return conn.execute("SELECT 1 FROM opt_outs WHERE phone = ?", (phone,)).fetchone() is not None

    # -- what tests and the demo read ----------------------------------------

    def texts(self, status: str | None = None) -> list[StoredText]:
        """Stored texts, oldest first, optionally of one status."""
        sql, params = "SELECT * FROM messages", []
        if status is not None:
            sql, params = sql + " WHERE status = ?", [status]
        with self._read() as conn:
            return [_text(r) for r in conn.execute(sql + " ORDER BY seq", params).fetchall()]

    def status_events(self) -> list[dict[str, Any]]:
        """Every status change with its message's numbers, oldest first (the callback export's input)."""
        with self._read() as conn:
            rows = conn.execute(
                """
                SELECT e.sid, e.status, e.at, e.error_code, m.account_sid, m.to_number, m.from_number,
                    m.messaging_service_sid, m.status_callback
                FROM status_events e JOIN messages m ON m.sid = e.sid
                ORDER BY e.at, e.id
                """
            ).fetchall()
        return [dict(r) for r in rows]

    def stop_replies(self) -> list[dict[str, Any]]:
        with self._read() as conn:
            return [dict(r) for r in conn.execute("SELECT * FROM inbound ORDER BY at, sid").fetchall()]
