"""The demo's Dagster run history on SQLite, written without waiting for the disk.

Dagster's SQLite storage opens a connection for every event it stores (a daily run stores about
2,500: each dbt model and test, each step) and the commit and the close of each wait for the disk
(fsync). On this project's 20,000-customer demo that cost about 10 s of a 30 s daily run, a third
of the demo's time, for nothing the demo needs: the runs only have to be there for the UI afterwards.

Inside `run_history_without_fsync(home)` every SQLite database under the Dagster home is opened
with `synchronous=off`: a crash of the demo process loses nothing (SQLite's writes are in the
operating system's hands); only a crash of the machine itself could damage the demo's run
history, which `dev.py demo` rebuilds anyway. Nothing else changes: the warehouse is DuckDB, and
the send ledger and the sink store use the sqlite3 module directly, never through SQLAlchemy, so
their writes keep waiting for the disk. A production instance keeps its run history in
PostgreSQL (deploy/dagster.yaml) and never runs this code.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine


@contextmanager
def run_history_without_fsync(dagster_home: Path) -> Iterator[None]:
    """SQLite databases under `dagster_home` opened through SQLAlchemy skip fsync while inside."""
    root = dagster_home.resolve()

    def on_connect(dbapi_connection: object, _record: object) -> None:
        if not isinstance(dbapi_connection, sqlite3.Connection):
            return
        files = [row[2] for row in dbapi_connection.execute("pragma database_list")]
        if any(f and Path(f).resolve().is_relative_to(root) for f in files):
            dbapi_connection.execute("pragma synchronous = off")

    event.listen(Engine, "connect", on_connect)
    try:
        yield
    finally:
        event.remove(Engine, "connect", on_connect)
