"""The same dbt project, unchanged, on a real PostgreSQL server.

scripts/postgres.sh installs Debian's PostgreSQL when it is missing, starts a
private cluster on 127.0.0.1 and creates a database; the raw rows of
raw_world.py are loaded into its `raw` schema; `dbt build --target postgres`
must pass and produce the same tables as the DuckDB build (conftest.py) of
the same rows, also after a second, incremental run. CI runs this: when the
server cannot be installed or started the tests fail, they are never skipped.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import duckdb
import pytest
from postgres.pg_server import connect as _connect
from postgres.pg_server import run_script as _script
from postgres.pg_server import running_server

from .conftest import BuiltWarehouse, DbtResult, run_dbt
from .raw_world import RAW_DDL, RUN_DATE, insert_partitions, model_relations, raw_tables

pytestmark = pytest.mark.postgres

TEST_DATABASE = "reengage_test"

# Every model, staging views included: a dialect difference anywhere shows up.
COMPARED_RELATIONS = model_relations("staging", "intermediate", "marts")


@pytest.fixture(scope="session")
def postgres_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """PG* variables of a running server with the test database (started by the project's script)."""
    with running_server(TEST_DATABASE, tmp_path_factory.mktemp("postgres") / "pg.env") as pg_env:
        yield pg_env


@dataclass
class PostgresWarehouse:
    env: dict[str, str]
    # a build as of the day before RUN_DATE ...
    build: DbtResult
    # ... then RUN_DATE: every incremental model takes its incremental path
    # with a day of new events to add
    rerun: DbtResult

    def rows(self, relation: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        con = _connect(self.env)
        try:
            with con.cursor() as cursor:
                cursor.execute(f"select * from {relation}")
                columns = [d[0] for d in cursor.description]
                return columns, cursor.fetchall()
        finally:
            con.close()


@pytest.fixture(scope="session")
def postgres_warehouse(
    postgres_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> PostgresWarehouse:
    con = _connect(postgres_env)
    try:
        con.autocommit = True
        with con.cursor() as cursor:
            for schema in ("marts", "intermediate", "staging", "raw"):
                cursor.execute(f"drop schema if exists {schema} cascade")
            cursor.execute(RAW_DDL)
            cursor.execute("set timezone = 'UTC'")
        insert_partitions(con, raw_tables(), placeholder="%s")
    finally:
        con.close()
    work_dir = tmp_path_factory.mktemp("dbt_postgres")
    day_before = (date.fromisoformat(RUN_DATE) - timedelta(days=1)).isoformat()
    builds = [
        run_dbt(
            ["build", "--vars", json.dumps({"run_date": run_date})],
            work_dir / "unused.duckdb",
            work_dir,
            target="postgres",
            extra_env=postgres_env,
        )
        for run_date in (day_before, RUN_DATE)
    ]
    return PostgresWarehouse(postgres_env, *builds)


def _comparable(value: Any) -> Any:
    # Numbers compare by value whatever the engine's type (bigint, numeric,
    # double); sums of doubles may differ in the last bits.
    if isinstance(value, bool) or value is None or isinstance(value, (str, date, datetime)):
        return value
    if isinstance(value, (int, float, Decimal)):
        number = float(value)
        return number if math.isnan(number) else round(number, 9)
    return value


def _table(columns: list[str], rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    normalised = [{c: _comparable(v) for c, v in zip(columns, row, strict=True)} for row in rows]
    return sorted(normalised, key=lambda r: repr(sorted(r.items())))


def test_dbt_build_passes_on_postgresql(postgres_warehouse: PostgresWarehouse) -> None:
    build = postgres_warehouse.build
    assert build.returncode == 0, build.explain()
    assert build.not_passed() == {}
    assert {"model", "seed", "test", "unit_test"} <= {n.split(".")[0] for n in build.statuses()}


def test_an_incremental_rerun_passes_on_postgresql(postgres_warehouse: PostgresWarehouse) -> None:
    # The tables compared below are the ones this rerun left: the incremental
    # SQL (delete+insert, rebuild_owner_tails) must run on PostgreSQL too, and
    # the day's new events must have been sessionized incrementally.
    rerun = postgres_warehouse.rerun
    assert rerun.returncode == 0, rerun.explain()
    assert rerun.not_passed() == {}
    con = _connect(postgres_warehouse.env)
    try:
        with con.cursor() as cursor:
            cursor.execute("select count(*) from intermediate.int_session_rebuilds")
            assert cursor.fetchone()[0] > 0, "the rerun did not take the incremental path"
    finally:
        con.close()


@pytest.mark.parametrize("relation", COMPARED_RELATIONS)
def test_postgresql_and_duckdb_build_the_same_tables(
    postgres_warehouse: PostgresWarehouse, built_warehouse: BuiltWarehouse, relation: str
) -> None:
    assert postgres_warehouse.rerun.returncode == 0, postgres_warehouse.rerun.explain()
    pg_columns, pg_rows = postgres_warehouse.rows(relation)
    con = duckdb.connect(str(built_warehouse.path), read_only=True)
    try:
        cursor = con.execute(f"select * from {relation}")
        duck_columns = [d[0] for d in cursor.description]
        duck_rows = cursor.fetchall()
    finally:
        con.close()
    assert pg_columns == duck_columns
    assert len(pg_rows) == len(duck_rows)
    assert _table(pg_columns, pg_rows) == _table(duck_columns, duck_rows)


def test_the_script_is_safe_to_run_again(postgres_env: dict[str, str]) -> None:
    # CI and developers call it before every test run; a second start must
    # find the running server and print the same settings.
    env = {**os.environ, "REENGAGE_PG_DB": TEST_DATABASE, "REENGAGE_PG_ENV_FILE": "/dev/null"}
    again = _script("start", env)
    assert again.returncode == 0, again.stderr
    assert f"export PGPORT={postgres_env['PGPORT']}" in again.stdout
    assert "already running" in again.stderr
