"""Rewrite the DuckDB warehouse file so that rows an erasure deleted leave no bytes behind.

DuckDB marks the blocks a deletion frees as free and reuses them later; until
then they keep the deleted values, and `checkpoint` does not clear them (after
an erasure the person's address, id and name were still in the file as bytes,
a whole quarantined record among them). Copying the database into a new file
(`COPY FROM DATABASE`) writes live rows only; the copy then replaces the file by
an atomic rename. It costs about one full read and write of the warehouse
(docs/privacy.md gives figures), so it runs only after an erasure.

Nothing stored may be lost on the way:
- the old file is attached read-only for the whole copy and rename, which holds
  DuckDB's shared file lock: no other process can open it for writing, so no
  write can land in the old file after it was copied;
- a WAL the old file still had is replayed into the copy, then removed before
  the rename, so it is never applied to the new file;
- the copy must hold the same tables with the same row counts, and the same
  views, indexes, constraints, sequences, macros and types, before it replaces
  anything; if it does not, or the copy fails (a full disk, a foreign key DuckDB
  cannot copy), the old file stays as it was and the error says so.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from reengage.privacy.tables import quote

# The copy's name in the copying connection, and the suffix of its file until the rename.
COPY_CATALOG = "rewritten_warehouse"
COPY_SUFFIX = ".rewrite"
# The copy runs inside the erasing process (a daily run step or the command): without a limit DuckDB
# caches up to 80% of RAM (1.3 GiB for a 535 MiB file); with it, it spills beside the file.
MEMORY_LIMIT = "1GB"

# What must be the same in both files (database-specific columns such as oids left out).
_CATALOG_QUERIES = {
    "tables": "select schema_name, table_name, sql from duckdb_tables() where database_name = ?",
    "views": "select schema_name, view_name, sql from duckdb_views() "
    "where database_name = ? and not internal",
    "indexes": "select schema_name, table_name, index_name, sql from duckdb_indexes() "
    "where database_name = ?",
    "constraints": "select schema_name, table_name, constraint_type, constraint_text "
    "from duckdb_constraints() where database_name = ?",
    "sequences": "select schema_name, sequence_name from duckdb_sequences() where database_name = ?",
    "macros": "select schema_name, function_name, macro_definition "
    "from duckdb_functions() where database_name = ? and not internal",
    "types": "select schema_name, type_name from duckdb_types() where database_name = ? and not internal",
}


class RewriteError(RuntimeError):
    """The warehouse file could not be rewritten; it was left exactly as it was."""


@dataclass(frozen=True)
class Rewrite:
    """What one rewrite did, for logs and metadata."""

    seconds: float
    bytes_before: int  # the file and its WAL
    bytes_after: int

    @property
    def summary(self) -> str:
        before, after = (size / 2**20 for size in (self.bytes_before, self.bytes_after))
        return (
            f"warehouse file rewritten without the erased rows' bytes in {self.seconds:.1f} s "
            f"({before:,.1f} MiB before, {after:,.1f} MiB after)"
        )


def rewrite(path: Path, stamp: Callable[[duckdb.DuckDBPyConnection, str], None] | None = None) -> Rewrite:
    """Replace the DuckDB file at `path` by a copy of its live contents.

    No connection of this process may hold the file (DuckDB refuses a second one), and a
    process holding it for writing makes this fail with DuckDB's lock error. `stamp(con,
    catalog)` runs on the copy before it replaces the file (the audit records the rewrite
    in the very file it describes).
    """
    path = path.resolve()
    wal = path.with_name(path.name + ".wal")
    copy = path.with_name(path.name + COPY_SUFFIX)
    copy_wal = copy.with_name(copy.name + ".wal")
    started = time.perf_counter()
    before = _size(path) + _size(wal)
    _remove(copy, copy_wal)  # left by a rewrite that crashed: never the warehouse itself
    con = duckdb.connect()
    try:
        # Spill where DuckDB spills for this file anyway, not into the working directory.
        con.execute(f"set temp_directory = {_literal(str(path) + '.tmp')}")
        con.execute(f"set memory_limit = {_literal(MEMORY_LIMIT)}")
        con.execute(f"attach {_literal(str(path))} (read_only)")
        (catalog,) = con.execute(
            "select database_name from duckdb_databases() where path = ?", [str(path)]
        ).fetchall()[0]
        con.execute(f"attach {_literal(str(copy))} as {COPY_CATALOG}")
        try:
            con.execute(f"copy from database {quote(catalog)} to {COPY_CATALOG}")
            if stamp is not None:
                stamp(con, COPY_CATALOG)
            differences = _differences(con, catalog, COPY_CATALOG)
        finally:
            con.execute(f"detach {COPY_CATALOG}")
        if differences:
            raise RewriteError(f"the copy of {path} differs from it ({'; '.join(differences[:5])})")
        _fsync(copy)
        # Everything the WAL held is in the copy; left behind it would be replayed into it.
        wal.unlink(missing_ok=True)
        os.replace(copy, path)
        _fsync(path.parent)
    except (duckdb.Error, OSError, RewriteError) as err:
        _remove(copy, copy_wal)
        if isinstance(err, RewriteError):
            raise
        raise RewriteError(
            f"could not rewrite {path} without the erased rows' bytes; it was left as it was: {err}"
        ) from err
    finally:
        con.close()
    return Rewrite(time.perf_counter() - started, before, _size(path))


def _differences(con: duckdb.DuckDBPyConnection, old: str, new: str) -> list[str]:
    """What the copy lacks or has more of than the original: catalog objects and row counts."""
    found = []
    for what, sql in _CATALOG_QUERIES.items():
        a, b = (sorted(con.execute(sql, [name]).fetchall(), key=repr) for name in (old, new))
        if a != b:
            found.append(f"{what}: {len(a)} in the original, {len(b)} in the copy or defined differently")
    tables = con.execute(
        "select schema_name, table_name from duckdb_tables() where database_name = ? order by all", [old]
    ).fetchall()
    for schema, table in tables:
        name = f"{quote(schema)}.{quote(table)}"
        count_old, count_new = (
            con.execute(f"select count(*) from {quote(db)}.{name}").fetchall()[0][0] for db in (old, new)
        )
        if count_old != count_new:
            found.append(f"{schema}.{table}: {count_old} rows in the original, {count_new} in the copy")
    return found


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def _remove(*paths: Path) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    """Flush a file, or a directory's entries (the rename), to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
