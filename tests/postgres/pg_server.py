"""The PostgreSQL server the tests use, started by the project's own script.

scripts/postgres.sh installs Debian's PostgreSQL when it is missing, starts a
private cluster on 127.0.0.1 and creates the database it is asked for. Every
module that needs PostgreSQL asks for its own database here, so modules never
see each other's tables. When the server cannot be installed or started the
calling test fails: PostgreSQL tests are never skipped.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

POSTGRES_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "postgres.sh"
MARKER = "postgres: needs a real PostgreSQL server (scripts/postgres.sh starts one)"
PG_VARIABLES = ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE")


def run_script(command: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(POSTGRES_SCRIPT), command],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,  # a first apt-get install of postgresql
        check=False,
    )


def script_env(database: str, env_file: Path | str) -> dict[str, str]:
    return {**os.environ, "REENGAGE_PG_DB": database, "REENGAGE_PG_ENV_FILE": str(env_file)}


@contextmanager
def running_server(database: str, env_file: Path) -> Iterator[dict[str, str]]:
    """PG* variables of a running server with `database` (created when missing).

    Stops the server afterwards only when this call started it, so a developer's
    running server and other modules' databases are left alone.
    """
    env = script_env(database, env_file)
    was_running = run_script("status", env).returncode == 0
    started = run_script("start", env)
    if started.returncode != 0:
        pytest.fail(
            "scripts/postgres.sh could not install or start PostgreSQL "
            f"(exit {started.returncode}); the PostgreSQL tests cannot run:\n{started.stderr[-3000:]}",
            pytrace=False,
        )
    pg_env = {}
    for line in started.stdout.splitlines():
        if line.startswith("export ") and "=" in line:
            key, _, value = line.removeprefix("export ").partition("=")
            pg_env[key] = value
    assert set(PG_VARIABLES) <= set(pg_env), started.stdout
    assert pg_env["PGDATABASE"] == database
    try:
        yield pg_env
    finally:
        if not was_running:
            run_script("stop", env)


def connect(pg_env: dict[str, str]) -> Any:
    """A psycopg2 connection (dbt-postgres brings psycopg2-binary)."""
    try:
        import psycopg2
    except ImportError:  # pragma: no cover - an environment without dbt-postgres
        pytest.fail("psycopg2 is missing: install dbt-postgres (it brings psycopg2-binary)", pytrace=False)
    return psycopg2.connect(
        host=pg_env["PGHOST"],
        port=int(pg_env["PGPORT"]),
        user=pg_env["PGUSER"],
        password=pg_env["PGPASSWORD"],
        dbname=pg_env["PGDATABASE"],
    )


def drop_user_schemas(pg_env: dict[str, str]) -> None:
    """Empty the database: every schema but PostgreSQL's own and `public` goes, with its tables."""
    con = connect(pg_env)
    try:
        con.autocommit = True
        with con.cursor() as cursor:
            cursor.execute(
                "select nspname from pg_namespace "
                "where nspname not like 'pg\\_%' and nspname not in ('information_schema', 'public')"
            )
            for (schema,) in cursor.fetchall():
                cursor.execute(f'drop schema "{schema}" cascade')
    finally:
        con.close()
