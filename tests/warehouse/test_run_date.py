"""Where dbt takes the run date from: REENGAGE_RUN_DATE (how Dagster passes it), else --vars.

The date is read when nodes run, never while dbt parses (macros/as_of.sql), so a new date does
not make dbt parse the whole project again (test_dbt_parse_reuse.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from .conftest import BuiltWarehouse, DbtResult, run_dbt
from .dagster_run import materialize_warehouse_models
from .raw_world import RUN_DATE, create_raw_warehouse, insert_partitions, raw_tables

# compiling these reads the run date (the model) and the start date (the test's window)
READS_BOTH_DATES = "fct_user_dormancy assert_no_gap_inside_a_session_exceeds_the_session_gap"
# a backfill of five days in one run, after a build of the day before it; lookback_days (2) alone
# would re-examine only from 2026-01-08
BEFORE_THE_RANGE = "2026-01-05"
RANGE_START = "2026-01-06"


@pytest.fixture(scope="module")
def work_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # one folder for the module: a new date leaves dbt's parse valid, so only the first test parses
    return tmp_path_factory.mktemp("run_date")


def _compile(work_dir: Path, selection: str, env: dict[str, str], *args: str) -> DbtResult:
    return run_dbt(
        ["compile", "--select", selection, *args], work_dir / "warehouse.duckdb", work_dir, extra_env=env
    )


def _compiled_as_of(result: DbtResult) -> str:
    (compiled,) = result.target_path.rglob("fct_user_dormancy.sql")
    return compiled.read_text()


def test_the_run_date_comes_from_the_environment(work_dir: Path) -> None:
    # Guards the way Dagster hands dbt its partition date since it stopped using --vars.
    result = _compile(work_dir, "fct_user_dormancy", {"REENGAGE_RUN_DATE": RUN_DATE})
    assert result.returncode == 0, result.explain()
    assert f"cast('{RUN_DATE}' as date) as as_of_date" in _compiled_as_of(result)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"REENGAGE_RUN_DATE": ""}, "No run date: set the environment variable REENGAGE_RUN_DATE"),
        (
            {"REENGAGE_RUN_DATE": "2026-13-01"},
            "environment variable REENGAGE_RUN_DATE is 2026-13-01, not a date",
        ),
        ({"REENGAGE_RUN_DATE": "2026-01-10'; drop table x; --"}, "REENGAGE_RUN_DATE is 2026-01-10'"),
        (
            {"REENGAGE_RUN_DATE": RUN_DATE, "REENGAGE_START_DATE": "2026-01-11"},
            "the start date (2026-01-11) is after the run date (2026-01-10)",
        ),
    ],
)
def test_a_missing_or_unreadable_run_date_stops_dbt_saying_which_setting(
    work_dir: Path, env: dict[str, str], message: str
) -> None:
    # Guards against a model silently built as of a default date (the project once defaulted to
    # 2026-01-01), and against a value that is not a date reaching the SQL.
    result = _compile(work_dir, READS_BOTH_DATES, env)
    assert result.returncode != 0
    assert message in result.explain()


def test_a_run_date_given_as_a_var_wins_over_the_environment(work_dir: Path) -> None:
    # Guards the unit tests (their overrides set vars) and anyone running dbt by hand with --vars.
    # The last command in work_dir: a var given on the command line makes the next one parse in full.
    var = json.dumps({"run_date": RUN_DATE})
    result = _compile(work_dir, "fct_user_dormancy", {"REENGAGE_RUN_DATE": "2026-02-01"}, "--vars", var)
    assert result.returncode == 0, result.explain()
    assert f"cast('{RUN_DATE}' as date) as as_of_date" in _compiled_as_of(result)


def test_a_one_run_backfill_takes_in_the_events_from_its_first_day(
    tmp_path: Path, built_warehouse: BuiltWarehouse
) -> None:
    # Guards backfills since the dates moved from --vars to the environment: a range built in one
    # run must re-examine events from its first day (REENGAGE_START_DATE), not only the last
    # lookback_days, or the range's earlier days never reach the incremental tables.
    warehouse = tmp_path / "warehouse.duckdb"
    create_raw_warehouse(warehouse, last_partition=BEFORE_THE_RANGE)
    assert materialize_warehouse_models(tmp_path, warehouse, partition_key=BEFORE_THE_RANGE).success
    with duckdb.connect(str(warehouse)) as con:
        con.execute("set timezone = 'UTC'")
        insert_partitions(con, raw_tables(), first=RANGE_START, last=RUN_DATE)

    ranged = materialize_warehouse_models(tmp_path, warehouse, first_partition=RANGE_START)

    assert ranged.success
    stitched = "select event_id from intermediate.int_events_stitched order by event_id"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        events = con.execute(stitched).fetchall()
    assert events == built_warehouse.query(stitched)  # the events a build of all days at once holds
