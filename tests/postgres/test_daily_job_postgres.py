"""The whole daily job with its tables in a real PostgreSQL server instead of the DuckDB file.

`REENGAGE_WAREHOUSE_KIND=postgres` switches every stage at once: ingest, the quality
gates (Great Expectations straight on PostgreSQL), dbt (its `postgres` target), scoring,
interventions, delivery's ledger mirror and measurement all read and write the database
that scripts/postgres.sh started, and the official sendgrid client still delivers over
HTTP to the local sink. Everything is asserted from PostgreSQL itself through psycopg2.
The server is started by the project's script; when it cannot start, the tests fail.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest

from reengage import settings
from reengage.defs.quality.findings import QualityGateError
from reengage.defs.quality.validation import validate_table
from reengage.runs import failures, run_day
from reengage.warehouse import WarehouseConnectionError, connect
from reengage_dev.sink.store import SinkStore
from reengage_dev.twilio_sink.store import TwilioSinkStore
from tests.daily_job_checks import (
    DAILY_GATES,
    assert_gates_passed,
    check_summary,
    demo_day_on,
    rows_validated,
)

from .pg_server import PG_VARIABLES, drop_user_schemas, running_server
from .pg_server import connect as pg_connect

pytestmark = pytest.mark.postgres

# Its own database: tests/warehouse/test_postgres.py uses another one on the same server.
TEST_DATABASE = "reengage_daily_job"
RUN_DATE = datetime.now(UTC).date()  # read at import: runs pass allow_past_dates past midnight


@pytest.fixture(scope="module")
def postgres_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    with running_server(TEST_DATABASE, tmp_path_factory.mktemp("postgres") / "pg.env") as pg_env:
        yield pg_env


def use_postgres(patch: pytest.MonkeyPatch, pg_env: dict[str, str]) -> None:
    """What a deployment sets: the warehouse kind and the libpq variables, nothing else."""
    for name in ("REENGAGE_WAREHOUSE", "REENGAGE_DBT_TARGET", "REENGAGE_LANDING", "SENDGRID_API_KEY"):
        patch.delenv(name, raising=False)
    patch.delenv("REENGAGE_SENDGRID_HOST", raising=False)
    patch.setenv("REENGAGE_WAREHOUSE_KIND", "postgres")
    for name in PG_VARIABLES:
        patch.setenv(name, pg_env[name])


@dataclass
class World:
    home: Path
    pg_env: dict[str, str]
    instance: dg.DagsterInstance
    result: dg.ExecuteInProcessResult

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        con = pg_connect(self.pg_env)
        try:
            with con.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchall()
        finally:
            con.close()

    def count(self, table: str, where: str = "", params: tuple[Any, ...] = ()) -> int:
        return self.query(f"select count(*) from {table} {where}", params)[0][0]


@pytest.fixture(scope="module")
def world(postgres_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    drop_user_schemas(postgres_env)  # a fresh database on every run
    home = tmp_path_factory.mktemp("postgres_home")
    with demo_day_on(home, lambda patch: use_postgres(patch, postgres_env), 1_500, RUN_DATE) as (
        instance,
        result,
    ):
        yield World(home, postgres_env, instance, result)


@pytest.fixture(autouse=True)
def postgres_warehouse(postgres_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test talks to the module's database (the suite-wide fixture gives each an empty home)."""
    use_postgres(monkeypatch, postgres_env)


@pytest.fixture
def world_home(world: World, monkeypatch: pytest.MonkeyPatch) -> World:
    monkeypatch.setenv("REENGAGE_HOME", str(world.home))
    return world


def test_every_stage_wrote_its_rows_to_postgresql(world_home: World) -> None:
    w = world_home
    day = (RUN_DATE,)
    for table, where, params in [
        ("raw.customers", "", ()),
        ("raw.events", "where _partition_date = %s", day),
        ("raw.email_events", "", ()),
        ("staging.stg_crm__customers", "", ()),
        ("intermediate.int_events_stitched", "", ()),
        ("marts.fct_sessions", "", ()),
        ("marts.fct_user_features", "", ()),
        ("scoring.churn_scores", "where run_date = %s", day),
        ("scoring.behaviour_clusters", "where run_date = %s", day),
        ("scoring.preferred_send_hours", "where run_date = %s", day),
        ("interventions.decisions", "where run_date = %s", day),
        ("interventions.intervention_list", "where run_date = %s", day),
        ("delivery.campaign_sends", "where run_date = %s", day),
        ("measurement.campaign_results", "where run_date = %s", day),
    ]:
        assert w.count(table, where, params) > 0, table
    # One row per customer as of the run date: dbt built the marts in this database, not in a file.
    customers = w.count("staging.stg_crm__customers")
    assert w.count("marts.fct_user_features") == customers
    assert w.count("scoring.churn_scores", "where run_date = %s", day) == customers


def test_no_stage_fell_back_to_a_duckdb_file(world_home: World) -> None:
    assert not list(world_home.home.glob("*.duckdb")), "a stage opened the DuckDB file instead of PostgreSQL"


def test_the_quality_gates_ran_on_postgresql_and_passed(world_home: World) -> None:
    gates = DAILY_GATES | {"raw_email_events_expectations", "raw_products_expectations"}
    checks = check_summary(world_home.result)
    assert_gates_passed(checks, gates)
    assert rows_validated(checks, "fct_user_features") == world_home.count("marts.fct_user_features")


def test_every_treated_message_reached_the_sink_exactly_once(world_home: World) -> None:
    w = world_home
    treated = {
        (row[0], row[1])
        for row in w.query(
            "select send_id, channel from interventions.intervention_list"
            " where run_date = %s and arm = 'treatment'",
            (RUN_DATE,),
        )
    }
    accepted = SinkStore(w.home / "sink.sqlite").count_by_send_id()
    assert treated, "the demo world should trigger some campaign"
    assert set(accepted) == {send_id for send_id, channel in treated if channel == "email"}
    assert set(accepted.values()) == {1}
    # Texts reach the Twilio sink, each listed number and body once (the send id rides in the callback URL).
    texts = sorted(
        w.query(
            "select contact, body from interventions.intervention_list"
            " where run_date = %s and arm = 'treatment' and channel = 'sms'",
            (RUN_DATE,),
        )
    )
    assert sorted((t.to, t.body) for t in TwilioSinkStore(w.home / "twilio_sink.sqlite").texts()) == texts
    ledger = w.query(
        "select count(*) filter (where state = 'accepted'), count(*) filter (where state = 'held') "
        "from delivery.campaign_sends where run_date = %s",
        (RUN_DATE,),
    )[0]
    held = w.count("interventions.intervention_list", "where run_date = %s and arm = 'holdout'", (RUN_DATE,))
    assert ledger == (len(treated), held)


def test_measurement_counts_match_the_ledger(world_home: World) -> None:
    measured = world_home.query(
        "select sum(sent), sum(assigned) from measurement.campaign_results where run_date = %s", (RUN_DATE,)
    )[0]
    ledger = world_home.query(
        "select count(*) filter (where state = 'accepted'), count(*) "
        "from delivery.campaign_sends where run_date = %s",
        (RUN_DATE,),
    )[0]
    assert tuple(int(n) for n in measured) == ledger


def test_a_read_only_connection_cannot_change_postgresql(world_home: World) -> None:
    with connect(read_only=True) as con:
        assert con.execute("select count(*) from raw.customers").fetchall()[0][0] > 0
        with pytest.raises(duckdb.Error, match="read-only"):
            con.execute("delete from raw.customers")
    assert world_home.count("raw.customers") > 0


def test_a_wrong_password_is_reported_without_showing_it(
    world_home: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "not-the-password-4711"
    monkeypatch.setenv("PGPASSWORD", secret)
    with pytest.raises(WarehouseConnectionError) as opened:
        with connect():
            pass
    assert TEST_DATABASE in str(opened.value) and secret not in str(opened.value)
    with pytest.raises(QualityGateError) as gated:
        validate_table(settings.warehouse_path(), "raw.events", "raw_events", RUN_DATE)
    assert secret not in str(gated.value)


def test_dbt_and_the_python_stages_refuse_to_disagree(monkeypatch: pytest.MonkeyPatch) -> None:
    # dbt building the DuckDB file while the stages read PostgreSQL would be a silent split.
    monkeypatch.setenv("REENGAGE_DBT_TARGET", "dev")
    with pytest.raises(ValueError, match="REENGAGE_WAREHOUSE_KIND"):
        settings.warehouse_kind()
    monkeypatch.delenv("REENGAGE_DBT_TARGET")
    assert (settings.warehouse_kind(), settings.dbt_target()) == ("postgres", "postgres")


# Last: it runs the day again on the same database.
def test_rerunning_the_day_sends_nothing_twice_and_keeps_the_same_rows(world_home: World) -> None:
    w = world_home
    listed = (
        "select send_id, variant, arm from interventions.intervention_list where run_date = %s order by 1"
    )
    ledger = "select send_id, state from delivery.campaign_sends where run_date = %s order by 1"
    before = (w.query(listed, (RUN_DATE,)), w.query(ledger, (RUN_DATE,)), w.count("raw.events"))
    store = SinkStore(w.home / "sink.sqlite")
    requests_before = store.request_count()
    rerun = run_day(RUN_DATE, w.instance, allow_past_dates=True)
    assert rerun.success, failures(rerun)
    after = (w.query(listed, (RUN_DATE,)), w.query(ledger, (RUN_DATE,)), w.count("raw.events"))
    assert before == after
    assert store.request_count() == requests_before
    assert store.duplicates() == {}
