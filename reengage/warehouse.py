"""Short-lived DuckDB connections to the warehouse: the embedded file, or PostgreSQL.

DuckDB is the Python stages' SQL engine whatever the kind. With `REENGAGE_WAREHOUSE_KIND=duckdb`
(the default) it opens the warehouse file; with `postgres` it starts in memory and
attaches the PostgreSQL database through DuckDB's postgres extension (shipped as the
`duckdb-extension-postgres-scanner` wheel), under the catalog name `warehouse`, so the
same SQL (`raw.events`, `marts.fct_user_features`, ...) reads and writes PostgreSQL
tables. With `spark` it opens the file too, where the stages' own tables live and the tables
dbt built on Spark are views over their Parquet files (`reengage.spark.views`). DuckDB lets
one process write a file at a time, and dbt runs in its own process, so every stage opens a
connection, does its work and closes it.

Every connection first brings the warehouse to the declared schema (`reengage.schema`;
one catalog look-up when it is current), so a warehouse built by an earlier version upgrades
itself before any stage reads or writes it: a read-only one migrates through a short writable
connection the first time.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import dagster as dg
import duckdb

from reengage import settings
from reengage.schema.migrations import is_current, migrate
from reengage.tables import transaction  # noqa: F401  (the stages' one import for a connection)

# The attached PostgreSQL database's catalog name: the same as a file called warehouse.duckdb.
CATALOG = "warehouse"


class WarehouseConnectionError(duckdb.IOException):
    """The warehouse could not be opened; the message names where, never the password.

    A DuckDB error, so callers that already handle `duckdb.Error` handle this one too.
    """


@contextmanager
def connect(
    path: Path | str | None = None, read_only: bool = False, kind: str | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB connection whose default catalog is the warehouse, closed on exit.

    `kind` defaults to `settings.warehouse_kind()`; `path` only applies to the DuckDB file.
    `read_only` opens the file read-only, or attaches PostgreSQL with READ_ONLY, so a
    reader can never change a table by mistake.
    """
    kind = kind or settings.warehouse_kind()
    con = _open(path, read_only, kind)
    try:
        if not read_only:
            migrate(con)  # one catalog look-up when the warehouse is already current
        elif not is_current(con):
            # A reader is the first to open a warehouse an earlier version built: migrate it through
            # a short writable connection. One another process holds for writing cannot be; the
            # reader then names the table it misses (schema.migrations.require).
            con.close()
            with suppress(duckdb.IOException), connect(path, kind=kind):
                pass
            con = _open(path, read_only, kind)
        yield con
    finally:
        con.close()


def _open(path: Path | str | None, read_only: bool, kind: str) -> duckdb.DuckDBPyConnection:
    if kind == "postgres":
        con = _attach_postgres(read_only)
    else:
        target = Path(path) if path else settings.warehouse_path()
        target.parent.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(str(target), read_only=read_only)
    try:
        con.execute("set timezone = 'UTC'")
    except duckdb.Error:
        con.close()
        raise
    return con


def describe(path: Path | str | None = None, kind: str | None = None) -> str:
    """Where the warehouse is, for messages and logs (no password)."""
    kind = kind or settings.warehouse_kind()
    if kind == "postgres":
        p = settings.postgres_params()
        return f"PostgreSQL database {p['dbname']} on {p['host']}:{p['port']} as {p['user']}"
    file = str(Path(path) if path else settings.warehouse_path())
    if kind == "spark":
        return f"{file}, with views over the Spark tables under {settings.spark_home()}"
    return file


def postgres_extension_file() -> Path:
    """DuckDB's postgres extension from its PyPI wheel: nothing is downloaded at run time."""
    import duckdb_extension_postgres_scanner

    package = Path(duckdb_extension_postgres_scanner.__file__).parent
    # The extension must be built for this exact DuckDB version, hence the version in the path.
    found = package / "extensions" / f"v{duckdb.__version__}" / "postgres_scanner.duckdb_extension"
    if not found.exists():
        raise WarehouseConnectionError(
            f"no postgres extension for DuckDB {duckdb.__version__} at {found}; install "
            f"duckdb-extension-postgres-scanner=={duckdb.__version__}"
        )
    return found


def postgres_dsn() -> str:
    """libpq key=value string from the PG* variables; the password stays in PGPASSWORD."""
    return " ".join(f"{key}={_quote(value)}" for key, value in settings.postgres_params().items())


def _quote(value: str) -> str:
    if value and not any(c in value for c in " '\\"):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _attach_postgres(read_only: bool) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    try:
        # An in-memory engine spills big joins to disk like the file would, under REENGAGE_HOME.
        spill = settings.home() / "duckdb_tmp"
        spill.mkdir(parents=True, exist_ok=True)
        con.execute(f"set temp_directory = '{spill.as_posix()}'")
        con.execute(f"load '{postgres_extension_file().as_posix()}'")
        options = "type postgres, read_only" if read_only else "type postgres"
        con.execute(f"attach '{postgres_dsn()}' as {CATALOG} ({options})")
        con.execute(f"use {CATALOG}")
    except duckdb.Error as exc:
        con.close()
        # The DSN carries no password, so naming it in the message is safe.
        raise WarehouseConnectionError(f"cannot open the {describe(kind='postgres')}: {exc}") from exc
    return con


def job_executor() -> dg.ExecutorDefinition:
    """How a job's steps run: in one process on the DuckDB file, a process per step on PostgreSQL.

    The DuckDB file has one writer at a time; on PostgreSQL independent steps (the scoring
    models, the checks) run side by side. Read when the code location loads, like every setting.
    """
    if settings.warehouse_kind() == "postgres":
        return dg.multiprocess_executor
    return dg.in_process_executor


class WarehouseResource(dg.ConfigurableResource):
    """The warehouse every Python stage reads and writes (REENGAGE_WAREHOUSE_KIND picks which)."""

    # The DuckDB file (default $REENGAGE_WAREHOUSE); unused on PostgreSQL. The kind is not a
    # field on purpose: it comes from REENGAGE_WAREHOUSE_KIND alone, which dbt's profile reads too.
    path: str = ""

    def resolved_kind(self) -> str:
        return settings.warehouse_kind()

    def resolved_path(self) -> Path:
        return Path(self.path) if self.path else settings.warehouse_path()

    def describe(self) -> str:
        return describe(self.resolved_path(), self.resolved_kind())

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        with connect(self.resolved_path(), read_only=read_only, kind=self.resolved_kind()) as con:
            yield con
