"""The same dbt project, unchanged, on Apache Spark: every model equal to the DuckDB build.

scripts/spark.sh installs Java and dbt-spark when they are missing. The raw rows of
raw_world.py, with the late rows of the incremental tests and a device whose only session of a
day disappears, are exported to Parquet (reengage/spark/raw_export.py) as of 2026-01-07; `dbt
build` (models and seeds; the unit tests test the same SQL on DuckDB, and take four minutes on
Spark) runs on Spark in local mode and on DuckDB. Then three landing days arrive and both build
2026-01-10 incrementally, the data tests too, two dbt nodes at a time on Spark: a late event merges
two old sessions, a device's anonymous history moves to another customer, a day loses its only
session. After each build every model
Spark wrote, read back from its Parquet files through DuckDB, and every view (its rows written
by the same Spark session), must equal DuckDB's, row for row, with the same types. CI runs this:
when Spark cannot be installed or started the tests fail, they are never skipped.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from reengage.spark.layout import SparkLayout
from reengage.spark.parquet_tables import table_scan
from reengage.spark.raw_export import export_raw_warehouse
from tests.warehouse.conftest import DbtResult, run_dbt
from tests.warehouse.raw_world import (
    LATE_EVENTS,
    RUN_DATE,
    create_raw_warehouse,
    insert_partitions,
    model_relations,
    raw_event,
    raw_tables,
)

from .spark_env import SPARK_SCRIPT, run_dbt_on_spark, run_script, spark_environment

pytestmark = pytest.mark.spark

FIRST_DAY = "2026-01-07"  # the first build: every table made from scratch
NEXT_DAY = RUN_DATE  # three landing days later, incrementally

# A device alone on its days: its sessions of 23:50 on 11-01 and 00:45 on 11-02 are one session
# once an event of 00:15 arrives late, on 01-09, and 11-02 is left without a session at all.
LONE_DEVICE_EVENTS = [
    raw_event("lone_1", "page_view", "2025-11-01 23:50:00.250", anonymous_id="anon_lone"),
    raw_event("lone_2", "page_view", "2025-11-02 00:45:00", anonymous_id="anon_lone", partition="2025-11-01"),
    raw_event(
        "lone_late", "page_view", "2025-11-02 00:15:00", anonymous_id="anon_lone", partition="2026-01-09"
    ),
]
EXTRA_EVENTS = [*LATE_EVENTS, *LONE_DEVICE_EVENTS]

# Every model, views and the incremental bookkeeping included, and the seeds.
COMPARED_RELATIONS = [
    *model_relations("staging", "intermediate", "marts"),
    "intermediate.int_events_resessionized",
    "intermediate.int_session_rebuilds",
    "staging.event_catalog",
    "staging.progress_tiers",
]
# How the incremental models replace rows on Spark (macros/spark/incremental.sql): by rewriting the
# days they change, or, without a day column, the whole table.
REWRITTEN_BY_DAY = {
    "intermediate.int_events_stitched": "event_date",
    "intermediate.int_events_sessionized": "event_date",
    "marts.fct_sessions": "session_date",
    "marts.fct_user_daily_activity": "activity_date",
    "intermediate.int_customer_category_days": "activity_date",
    "intermediate.int_customer_quarter_hours": "activity_date",
    "intermediate.int_visitor_funnel_days": "activity_date",
}
REWRITTEN_WHOLE = ("intermediate.int_identity_links", "intermediate.int_customer_activity_summary")
# The data tests run on the incremental day only: their SQL is the same on both days, and on Spark
# each of them costs a second or more whatever its rows (the first day's build took a third longer).
BUILD_OF_DAY = {
    FIRST_DAY: ["build", "--exclude", "resource_type:unit_test", "resource_type:test"],
    NEXT_DAY: ["build", "--exclude", "resource_type:unit_test"],
}
# The incremental day runs two dbt nodes at once in the one Spark session (the spark.threads
# setting), so its comparison with DuckDB covers a build with more than one thread too.
THREADS_OF_DAY = {FIRST_DAY: "1", NEXT_DAY: "2"}


@dataclass
class DayBuilt:
    """One run date built on both engines, kept as it was before the next day's build."""

    spark: DbtResult
    duckdb: DbtResult
    spark_tables: SparkLayout  # a copy of the Spark warehouse's folder after this build
    spark_views: Path  # the views' rows, written by the build's Spark session
    duckdb_file: Path  # a copy of the DuckDB warehouse after this build
    spark_log: str  # dbt's debug log of the Spark build (every statement)

    def manifest_meta(self, relation: str) -> dict[str, Any]:
        nodes = json.loads((self.spark.target_path / "manifest.json").read_text())["nodes"].values()
        schema, name = relation.split(".")
        node = next(n for n in nodes if n["schema"] == schema and n["alias"] == name)
        return node["config"].get("meta", {})


@pytest.fixture(scope="module")
def spark_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("spark_home")


@pytest.fixture(scope="module")
def spark_env(spark_home: Path) -> dict[str, str]:
    """The environment of a dbt run on Spark, after the script installed what was missing."""
    return spark_environment(spark_home)


@pytest.fixture(scope="module")
def spark_history(
    spark_home: Path, spark_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, DayBuilt]:
    root = tmp_path_factory.mktemp("spark_build")
    layout = SparkLayout(spark_home)
    warehouse = root / "warehouse.duckdb"  # the raw tables, and the DuckDB build beside them
    tables = raw_tables(EXTRA_EVENTS)
    create_raw_warehouse(warehouse, last_partition=FIRST_DAY, extra_events=EXTRA_EVENTS)
    built = {}
    for day in (FIRST_DAY, NEXT_DAY):
        if day == NEXT_DAY:
            con = duckdb.connect(str(warehouse))
            try:
                con.execute("set timezone = 'UTC'")
                insert_partitions(con, tables, first=_day_after(FIRST_DAY), last=NEXT_DAY)
            finally:
                con.close()
        export_raw_warehouse(warehouse, layout.raw)
        work = root / day
        env = {**spark_env, "REENGAGE_SPARK_THREADS": THREADS_OF_DAY[day]}
        spark = run_dbt_on_spark(BUILD_OF_DAY[day], warehouse, work / "spark", env, day, timeout=1800)
        views = work / "spark" / "views"
        assert spark.returncode == 0, f"Spark build of {day}:\n{spark.explain()}"
        duck = run_dbt(BUILD_OF_DAY[day], warehouse, work / "duckdb", extra_env={"REENGAGE_RUN_DATE": day})
        assert duck.returncode == 0, f"DuckDB build of {day}:\n{duck.explain()}"
        kept = SparkLayout(work / "spark_home")
        shutil.copytree(layout.warehouse, kept.warehouse)
        duckdb_file = work / "warehouse.duckdb"
        shutil.copyfile(warehouse, duckdb_file)
        log = (work / "spark" / "logs" / "dbt.log").read_text()
        built[day] = DayBuilt(spark, duck, kept, views, duckdb_file, log)
    return built


def _day_after(day: str) -> str:
    return (date.fromisoformat(day) + timedelta(days=1)).isoformat()


@pytest.mark.parametrize("day", [FIRST_DAY, NEXT_DAY])
def test_dbt_build_passes_on_spark(spark_history: dict[str, DayBuilt], day: str) -> None:
    build = spark_history[day].spark
    assert build.not_passed() == {}
    kinds = {node.split(".")[0] for node in build.statuses()}
    assert {"model", "seed"} <= kinds
    assert ("test" in kinds) is (day == NEXT_DAY)


@pytest.mark.parametrize("day", [FIRST_DAY, NEXT_DAY])
def test_each_build_ran_as_many_dbt_threads_as_the_setting_says(
    spark_history: dict[str, DayBuilt], day: str
) -> None:
    assert f"Concurrency: {THREADS_OF_DAY[day]} threads (target='spark')" in spark_history[day].spark_log


def test_the_second_build_replaced_rows_in_every_incremental_model(
    spark_history: dict[str, DayBuilt],
) -> None:
    # The tables compared below are the ones the incremental run left: each of the nine models must
    # have taken its Spark path (not a rebuild), and the day that lost its only session is gone.
    log = spark_history[NEXT_DAY].spark_log
    for relation, day in REWRITTEN_BY_DAY.items():
        assert f"insert overwrite table {relation} partition ({day})" in log, relation
    for relation in REWRITTEN_WHOLE:
        assert f"create table {relation}__dbt_rewrite" in log, relation
        assert f"insert overwrite table {relation} select" in log, relation
    assert "alter table marts.fct_sessions drop if exists partition (session_date = date'2025-11-02')" in log
    for day, folders in {FIRST_DAY: True, NEXT_DAY: False}.items():
        sessions = spark_history[day].spark_tables.table_dir("marts", "fct_sessions")
        assert (sessions / "session_date=2025-11-02").exists() is folders


def test_the_incremental_day_rebuilt_the_lone_devices_sessions(spark_history: dict[str, DayBuilt]) -> None:
    # Guards the scenario itself: without the late event's merge there would be no emptied day.
    query = (
        "select cast(session_start_at as varchar) from marts.fct_sessions where anonymous_id = 'anon_lone'"
    )
    assert sorted(_duckdb_rows(spark_history[FIRST_DAY].duckdb_file, query)) == [
        ("2025-11-01 23:50:00.25",),
        ("2025-11-02 00:45:00",),
    ]
    assert _duckdb_rows(spark_history[NEXT_DAY].duckdb_file, query) == [("2025-11-01 23:50:00.25",)]


@pytest.mark.parametrize("relation", COMPARED_RELATIONS)
@pytest.mark.parametrize("day", [FIRST_DAY, NEXT_DAY])
def test_spark_and_duckdb_build_the_same_rows_and_types(
    spark_history: dict[str, DayBuilt], day: str, relation: str
) -> None:
    built = spark_history[day]
    con = duckdb.connect(str(built.duckdb_file), read_only=True)
    try:
        con.execute("set timezone = 'UTC'")
        duck_columns = _columns(con, f"select * from {relation}")
        views = built.spark_views / relation
        day_column = built.manifest_meta(relation).get("day_partition")
        spark_source = (
            f"read_parquet('{views.as_posix()}/*.parquet')"
            if views.exists()
            else table_scan(built.spark_tables, *relation.split("."), day_column)
        )
        spark_columns = _columns(con, f"select * from {spark_source}")
        # a table stored by day lists its day column last on Spark
        expected_order = [c for c in duck_columns if c[0] != day_column] + [
            c for c in duck_columns if c[0] == day_column
        ]
        assert spark_columns == expected_order
        names = ", ".join(f'"{name}"' for name, _ in duck_columns)
        duck_rows = con.execute(f"select {names} from {relation}").fetchall()
        spark_rows = con.execute(f"select {names} from {spark_source}").fetchall()
    finally:
        con.close()
    assert len(spark_rows) == len(duck_rows)
    assert _sorted(spark_rows) == _sorted(duck_rows)


def test_the_script_is_safe_to_run_again(spark_env: dict[str, str], tmp_path: Path) -> None:
    # CI and developers call it before every Spark run; a second install finds everything in place
    # and prints the same environment.
    again = run_script("install", {**os.environ, "REENGAGE_SPARK_HOME": str(tmp_path)})
    assert again.returncode == 0, again.stderr
    assert "already installed" in again.stderr
    assert f"export REENGAGE_SPARK_HOME={tmp_path}" in again.stdout
    assert f"export JAVA_HOME={spark_env['JAVA_HOME']}" in again.stdout
    assert SPARK_SCRIPT.stat().st_mode & 0o111


def test_spark_lives_in_an_environment_of_its_own(spark_env: dict[str, str]) -> None:
    # pyspark in the product's environment would end every `python -c` process that imports Great
    # Expectations with exit status 0 (scripts/spark.sh says why): the install must leave it alone.
    in_product = subprocess.run(
        [sys.executable, "-c", "import importlib.util; print(importlib.util.find_spec('pyspark') is None)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert in_product.stdout.strip() == "True"
    spark_python = Path(spark_env["REENGAGE_SPARK_DBT"]).with_name("python")
    assert spark_python.resolve() != Path(sys.executable).resolve()
    in_spark = subprocess.run([str(spark_python), "-c", "import pyspark, dbt.adapters.spark"], check=False)
    assert in_spark.returncode == 0


def _columns(con: duckdb.DuckDBPyConnection, query: str) -> list[tuple[str, str]]:
    return [(row[0], row[1]) for row in con.execute(f"describe {query}").fetchall()]


def _duckdb_rows(path: Path, query: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(query).fetchall()
    finally:
        con.close()


def _comparable(value: Any) -> Any:
    # sums of doubles may be added in another order by the two engines
    if isinstance(value, float) and not math.isnan(value):
        return round(value, 9)
    if isinstance(value, datetime) and value.tzinfo is not None:
        raise AssertionError(f"a timestamp with a time zone ({value}): the contracts declare naive UTC")
    return value


def _sorted(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return sorted((tuple(_comparable(v) for v in row) for row in rows), key=repr)
