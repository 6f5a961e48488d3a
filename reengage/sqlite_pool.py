"""A small pool of SQLite connections to one durable WAL file, shared by the send ledger and the sink.

Connections are reused: closing the last connection of a WAL database checkpoints
and deletes the WAL, which made every call pay several fsyncs. A pool (not one
shared connection) keeps an instance usable from threads; a forked child starts
a fresh pool rather than touch its parent's handles.
"""

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


class SQLitePool:
    def __init__(self, path: Path, schema: str, *, busy_timeout_seconds: int, cache_mib: int = 0) -> None:
        self.path = path
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._busy_timeout_seconds = busy_timeout_seconds
        self._cache_mib = cache_mib
        self._pool: list[sqlite3.Connection] = []
        self._pid = os.getpid()
        self._lock = threading.Lock()
        deadline = time.monotonic() + busy_timeout_seconds
        while True:
            try:
                with self.connect() as conn:
                    conn.execute("PRAGMA journal_mode=WAL")
                    conn.executescript(schema)  # idempotent: IF NOT EXISTS throughout
                return
            except sqlite3.OperationalError as err:
                # Two processes creating the same file at once: the switch to WAL can answer
                # "database is locked" without waiting on the busy timeout. Try again until it.
                if "locked" not in str(err) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    @contextmanager
    def connect(self, row_factory=None) -> Iterator[sqlite3.Connection]:
        conn = self._checkout()
        conn.row_factory = row_factory
        try:
            yield conn
        finally:
            self._checkin(conn)

    def _checkout(self) -> sqlite3.Connection:
        with self._lock:
            if self._pid != os.getpid():
                self._pool, self._pid = [], os.getpid()
            if self._pool:
                return self._pool.pop()
        conn = sqlite3.connect(
            self.path, timeout=self._busy_timeout_seconds, isolation_level=None, check_same_thread=False
        )
        conn.execute("PRAGMA synchronous=FULL")  # an acknowledged write survives a power cut
        conn.execute(f"PRAGMA busy_timeout={self._busy_timeout_seconds * 1000}")
        if self._cache_mib:
            conn.execute(f"PRAGMA cache_size=-{self._cache_mib * 1024}")
        return conn

    def _checkin(self, conn: sqlite3.Connection) -> None:
        if conn.in_transaction:  # only if a statement failed between BEGIN and ROLLBACK
            conn.execute("ROLLBACK")
        with self._lock:
            if self._pid == os.getpid():
                self._pool.append(conn)
                return
        conn.close()


@contextmanager
def immediate_transaction(
    conn: sqlite3.Connection, before_commit: Callable[[], None] | None = None
) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE takes the write lock up front; committed (durably) when the block exits
    cleanly, rolled back on any error. `before_commit` runs last inside (the ledger's crash point)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    if before_commit is not None:
        before_commit()
    conn.execute("COMMIT")


@contextmanager
def erasing_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction whose deleted or overwritten bytes are gone from the files too.

    secure_delete zeroes freed content; the WAL is checkpointed after the commit so old page
    images (which still hold the erased values) are truncated away. Used by erasure requests.
    """
    conn.execute("PRAGMA secure_delete=ON")
    try:
        with immediate_transaction(conn):
            yield conn
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.execute("PRAGMA secure_delete=OFF")
