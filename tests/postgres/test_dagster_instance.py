"""deploy/dagster.yaml, the production instance, on a real PostgreSQL server.

The file is copied unchanged into a fresh DAGSTER_HOME; the DAGSTER_PG_* variables point at a
database of its own. A run recorded through that instance must be in PostgreSQL's tables, and the
run queue must carry the one-run-per-day and one-delivering-run limits the file promises.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pytest

from .pg_server import connect, drop_user_schemas, running_server

pytestmark = pytest.mark.postgres

DEPLOY_YAML = Path(__file__).resolve().parents[2] / "deploy" / "dagster.yaml"
DATABASE = "reengage_dagster_instance"


@dg.asset
def canary() -> int:
    return 1


@pytest.fixture(scope="module")
def pg_env(tmp_path_factory: pytest.TempPathFactory):
    with running_server(DATABASE, tmp_path_factory.mktemp("pg") / "pg.env") as env:
        drop_user_schemas(env)
        con = connect(env)
        try:
            con.autocommit = True
            with con.cursor() as cursor:
                cursor.execute("drop table if exists runs, event_logs, alembic_version cascade")
        finally:
            con.close()
        yield env


@pytest.fixture
def instance(pg_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(DEPLOY_YAML, home / "dagster.yaml")
    for name, pg in [
        ("DAGSTER_PG_HOST", "PGHOST"),
        ("DAGSTER_PG_PORT", "PGPORT"),
        ("DAGSTER_PG_USER", "PGUSER"),
        ("DAGSTER_PG_PASSWORD", "PGPASSWORD"),
        ("DAGSTER_PG_DB", "PGDATABASE"),
    ]:
        monkeypatch.setenv(name, pg_env[pg])
    monkeypatch.setenv("DAGSTER_COMPUTE_LOG_DIR", str(tmp_path / "compute_logs"))
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as inst:
        yield inst


def test_runs_and_event_logs_are_stored_in_postgresql(instance: dg.DagsterInstance, pg_env) -> None:
    assert type(instance.run_storage).__name__ == "PostgresRunStorage"
    assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
    assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"

    result = dg.materialize([canary], instance=instance)
    assert result.success

    con = connect(pg_env)
    try:
        with con.cursor() as cursor:
            cursor.execute("select status from runs where run_id = %s", [result.run_id])
            assert cursor.fetchall() == [("SUCCESS",)]
            cursor.execute(
                "select count(*) from event_logs "
                "where run_id = %s and dagster_event_type = 'ASSET_MATERIALIZATION'",
                [result.run_id],
            )
            assert cursor.fetchone()[0] == 1
    finally:
        con.close()


def test_the_run_queue_allows_one_run_per_day_and_one_delivering_run(instance: dg.DagsterInstance) -> None:
    runs = instance.get_concurrency_config().run_queue_config
    assert {
        "key": "dagster/partition",
        "value": {"applyLimitPerUniqueValue": True},
        "limit": 1,
    } in runs.tag_concurrency_limits
    pools = instance.get_concurrency_config().pool_config
    assert pools.default_pool_limit == 1
    assert str(pools.pool_granularity).lower().endswith("run")
