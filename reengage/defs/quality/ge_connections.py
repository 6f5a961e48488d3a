"""How Great Expectations reaches the warehouse read-only: SQLAlchemy URLs, connect arguments, a dialect.

On DuckDB GE goes through duckdb-engine, adjusted (`GXReadOnlyDuckDBDialect`) and registered
as the `duckdb+gxreadonly` driver; on PostgreSQL it uses psycopg2 in read-only transactions,
with the password left to libpq. `close` disposes every engine GE made, because dbt and the
other stages open the same file next and DuckDB allows one writing process at a time.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb_engine
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, registry

from reengage import settings

logger = logging.getLogger(__name__)

# The checks run inside the Dagster process, next to other stages; DuckDB would otherwise take up
# to 80% of RAM. count(distinct) over a 50-million-row day peaked at 3.2 GiB RSS without a limit
# and 1.3 GiB with this one (DuckDB spills the rest to disk).
DEFAULT_DUCKDB_CONFIG: Mapping[str, str] = {"memory_limit": "1GB"}


class GXReadOnlyDuckDBDialect(duckdb_engine.Dialect):
    """duckdb-engine, adjusted for Great Expectations' read-only validation queries.

    Two mismatches between GE 1.x and duckdb-engine, both found the hard way:

    * GE's `execute_query` returns a result after leaving `with engine.connect()`; closing
      the connection rolls back its transaction, and duckdb-engine's cursor *is* the DuckDB
      connection, so the ROLLBACK replaces the pending result and every metric comes back
      empty (`IndexError` in `resolve_metric_bundle`; reported upstream at
      https://github.com/great-expectations/great_expectations/issues/10738 and .../issues/11579).
      A validation connection only reads, so transactions are no-ops here.
    * GE chooses regex and LIKE SQL by probing `dialect.dialect` for a PostgreSQL dialect and
      raises "Regex is not supported for dialect duckdb" otherwise; DuckDB speaks
      PostgreSQL's `~` and LIKE, so the probe is pointed there (on the instance: SQLAlchemy
      itself follows a class attribute of that name when it loads a dialect).
    """

    supports_statement_cache = False

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dialect = postgresql.dialect

    def do_begin(self, dbapi_connection: Any) -> None:
        pass

    def do_commit(self, dbapi_connection: Any) -> None:
        pass

    def do_rollback(self, dbapi_connection: Any) -> None:
        pass


_DRIVER = "gxreadonly"
registry.register(f"duckdb.{_DRIVER}", __name__, "GXReadOnlyDuckDBDialect")


def duckdb_url(path: Path) -> str:
    return sa.engine.URL.create(f"duckdb+{_DRIVER}", database=str(path.resolve())).render_as_string(
        hide_password=False
    )


# --- PostgreSQL through SQLAlchemy -----------------------------------------------------------

# Every transaction of a validation connection is read-only: a suite can never change a table.
POSTGRES_READ_ONLY_ARGS: Mapping[str, str] = {"options": "-c default_transaction_read_only=on"}


def postgres_url() -> str:
    """`postgresql+psycopg2://user@host:port/db` from the PG* variables, without a password.

    libpq reads PGPASSWORD (or ~/.pgpass) itself, so the secret is in no URL that GE keeps in
    its datasource config or an error message could show.
    """
    p = settings.postgres_params()
    url = sa.engine.URL.create(
        "postgresql+psycopg2", username=p["user"], host=p["host"], port=int(p["port"]), database=p["dbname"]
    )
    return url.render_as_string(hide_password=False)


def dispose_engines(datasource: Any) -> None:
    """Dispose both engines GE made (the datasource's and the execution engine's) and their pools."""
    for close in (
        lambda: datasource.get_execution_engine().close(),
        lambda: datasource.get_engine().dispose(),
    ):
        try:
            close()
        except Exception:  # closing must not mask the validation's own error
            logger.exception("closing a Great Expectations engine failed")


def connection(
    kind: str, path: Path, duckdb_config: Mapping[str, str] | None
) -> tuple[str, Mapping[str, Any]]:
    """The URL and connect arguments of a read-only validation connection to the warehouse."""
    if kind == "postgres":
        return postgres_url(), POSTGRES_READ_ONLY_ARGS
    return duckdb_url(path), {"read_only": True, "config": {**DEFAULT_DUCKDB_CONFIG, **(duckdb_config or {})}}
