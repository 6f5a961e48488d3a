"""The whole daily job on a Spark warehouse: dbt builds on Spark, every Python stage reads it.

`REENGAGE_WAREHOUSE_KIND=spark` with the environment scripts/spark.sh prints, nothing else: the
pipeline's dbt step runs dbt-spark from its own environment (Spark in local mode inside it), writes
the raw rows as Parquet first and makes the views over Spark's tables after; ingest, the quality
gates (Great Expectations through those views), scoring, interventions, delivery over HTTP to the
local sinks and measurement run on the DuckDB file as on `duckdb`. Every dbt-built table a test
counts is read from Spark's own Parquet files, not through the views, so a view that read the
wrong thing could not pass. The day runs in a process of its own (run_daily_job.py says why). When
Spark cannot be installed or started the tests fail.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from reengage.spark.layout import SparkLayout
from reengage.spark.lock import LOCK_FILE
from reengage.spark.parquet_tables import table_scan
from reengage.spark.stage_export import DAY_COLUMN, PUBLISHED, stage_table_folder
from reengage_dev.sink.store import SinkStore
from tests.daily_job_checks import assert_gates_passed, rows_validated

from .spark_env import spark_environment

pytestmark = pytest.mark.spark

ROOT = Path(__file__).resolve().parents[2]
RUN_DATE = datetime.now(UTC).date()  # read at import: runs pass allow_past_dates past midnight
CUSTOMERS = 600


def use_spark(patch: pytest.MonkeyPatch, spark_env: dict[str, str]) -> None:
    """What a deployment sets: the warehouse kind and what scripts/spark.sh prints."""
    for name in ("REENGAGE_WAREHOUSE", "REENGAGE_DBT_TARGET", "REENGAGE_LANDING", "SENDGRID_API_KEY"):
        patch.delenv(name, raising=False)
    patch.delenv("REENGAGE_SENDGRID_HOST", raising=False)
    patch.setenv("REENGAGE_WAREHOUSE_KIND", "spark")
    for name, value in spark_env.items():
        patch.setenv(name, value)


@dataclass
class World:
    home: Path
    spark: SparkLayout
    spark_env: dict[str, str]
    run: dict[str, Any]  # the day's run, as run_daily_job.py reports it

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        con = duckdb.connect(str(self.home / "warehouse.duckdb"), read_only=True)
        try:
            con.execute("set timezone = 'UTC'")
            return con.execute(sql, params or []).fetchall()
        finally:
            con.close()

    def spark_rows(self, relation: str, day_column: str | None = None) -> int:
        """Rows of a table Spark wrote, counted from its own files."""
        scan = table_scan(self.spark, *relation.split("."), day_column)
        return duckdb.connect().execute(f"select count(*) from {scan}").fetchone()[0]


def run_day_on_spark(home: Path, spark_env: dict[str, str], mode: str) -> dict[str, Any]:
    """The day (`first`: after the world's history) in a process of its own; what it reported."""
    unset = (
        "REENGAGE_WAREHOUSE",
        "REENGAGE_DBT_TARGET",
        "REENGAGE_LANDING",
        "SENDGRID_API_KEY",
        "REENGAGE_SENDGRID_HOST",
    )
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env.update(spark_env)
    env.update(
        REENGAGE_HOME=str(home),
        REENGAGE_WAREHOUSE_KIND="spark",
        PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "devkit"), env.get("PYTHONPATH", "")]),
    )
    out = home / f"run_{mode}.json"
    script = Path(__file__).with_name("run_daily_job.py")
    done = subprocess.run(
        [sys.executable, str(script), mode, RUN_DATE.isoformat(), str(CUSTOMERS), str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    assert done.returncode == 0 and out.exists(), done.stderr[-5000:]
    run = json.loads(out.read_text())
    assert run["success"], run["failures"]
    return run


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    home = tmp_path_factory.mktemp("spark_home")
    spark_env = spark_environment(home / "spark")
    run = run_day_on_spark(home, spark_env, "first")
    return World(home, SparkLayout(home / "spark"), spark_env, run)


@pytest.fixture
def world_home(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """The module's world for one test: the suite's per-test home clears the Spark variables."""
    monkeypatch.setenv("REENGAGE_HOME", str(world.home))
    use_spark(monkeypatch, world.spark_env)
    yield world


def test_dbt_built_the_marts_on_spark_and_every_stage_wrote_its_rows(world_home: World) -> None:
    w = world_home
    customers = w.spark_rows("staging.stg_crm__customers")
    assert customers > 0
    assert w.spark_rows("marts.fct_user_features") == customers
    assert w.spark_rows("intermediate.int_events_stitched", "event_date") > 0
    assert w.spark_rows("marts.fct_sessions", "session_date") > 0
    # the stages read exactly those files: the views hold what Spark wrote
    assert w.query("select count(*) from marts.fct_user_features") == [(customers,)]
    # the build held the Spark home's lock from its raw export to its views, and let it go
    assert (w.spark.home / LOCK_FILE).read_text() == ""
    kinds = dict(
        w.query("select table_name, table_type from information_schema.tables where table_schema = 'marts'")
    )
    assert set(kinds.values()) == {"VIEW"}, "a dbt table was built in the DuckDB file instead of on Spark"
    for table in (
        "scoring.churn_scores",
        "scoring.behaviour_clusters",
        "scoring.preferred_send_hours",
        "interventions.decisions",
        "interventions.intervention_list",
        "delivery.campaign_sends",
        "measurement.campaign_results",
    ):
        assert w.query(f"select count(*) from {table} where run_date = ?", [RUN_DATE])[0][0] > 0, table
    assert w.query("select count(*) from scoring.churn_scores where run_date = ?", [RUN_DATE]) == [
        (customers,)
    ]


def test_the_quality_gates_ran_on_the_spark_built_marts_and_passed(world_home: World) -> None:
    checks = world_home.run["checks"]
    assert_gates_passed(checks)
    assert rows_validated(checks, "fct_user_features") == world_home.spark_rows("marts.fct_user_features")


def test_every_treated_message_reached_the_sink_exactly_once(world_home: World) -> None:
    w = world_home
    treated = {
        send_id
        for (send_id,) in w.query(
            "select send_id from interventions.intervention_list "
            "where run_date = ? and arm = 'treatment' and channel = 'email'",
            [RUN_DATE],
        )
    }
    accepted = SinkStore(w.home / "sink.sqlite").count_by_send_id()
    assert treated, "the demo world should trigger some campaign"
    assert set(accepted) == treated
    assert set(accepted.values()) == {1}


def spark_reads(spark_env: dict[str, str], work: Path, folders: list[Path]) -> dict[str, Any]:
    """What Spark reads from `folders` (tests/spark/spark_reads.py), by folder."""
    python = Path(spark_env["REENGAGE_SPARK_DBT"]).with_name("python")
    out = work / "spark_reads.json"
    done = subprocess.run(
        [str(python), str(Path(__file__).with_name("spark_reads.py")), str(out), *map(str, folders)],
        env={**os.environ, **spark_env},
        cwd=work,  # where Spark leaves anything of its own
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-5000:]
    return json.loads(out.read_text())


def test_the_stages_tables_are_published_by_run_date_and_spark_reads_the_rows_duckdb_holds(
    world_home: World,
) -> None:
    w = world_home
    folders = {table.name: stage_table_folder(w.spark.stages, table) for table in PUBLISHED}
    read = spark_reads(w.spark_env, w.home, list(folders.values()))
    for table in PUBLISHED:
        held = w.query(f"select {DAY_COLUMN}::varchar, count(*) from {table.name} group by all")
        seen = read[str(folders[table.name])]
        assert seen["days"] == {str(day): rows for day, rows in held}, table.name
        names = [name for name, _ in seen["columns"]]
        assert names == [n for n in table.names if n != DAY_COLUMN] + [DAY_COLUMN], table.name
        assert seen["columns"][-1] == [DAY_COLUMN, "date"], table.name
    # the day's own stages are in: scores, decisions and measurement of the run date
    for table in ("scoring.churn_scores", "interventions.decisions", "measurement.campaign_results"):
        assert read[str(folders[table])]["days"].get(RUN_DATE.isoformat(), 0) > 0, table
    # the contacts and message content stay in the DuckDB file
    schemas = list(w.spark.stages.iterdir())
    published = sorted(f"{schema.name}.{table.name}" for schema in schemas for table in schema.iterdir())
    assert published == sorted(folders)


# Last: it runs the day again, dbt on Spark included.
def test_rerunning_the_day_sends_nothing_twice_and_keeps_the_same_rows(world_home: World) -> None:
    w = world_home
    listed = "select send_id, variant, arm from interventions.intervention_list where run_date = ? order by 1"
    ledger = "select send_id, state from delivery.campaign_sends where run_date = ? order by 1"

    def state() -> tuple[Any, ...]:
        return (
            w.query(listed, [RUN_DATE]),
            w.query(ledger, [RUN_DATE]),
            w.spark_rows("intermediate.int_events_stitched", "event_date"),
            w.spark_rows("marts.fct_user_features"),
        )

    before = state()
    store = SinkStore(w.home / "sink.sqlite")
    requests_before = store.request_count()
    run_day_on_spark(w.home, w.spark_env, "again")
    assert state() == before
    assert store.request_count() == requests_before
    assert store.duplicates() == {}
