"""Data tests of the incremental tables check what the day changed, and every row once a week.

A daily build tests the rows of its incremental window; every row is tested on a full refresh
and on the run dates that fall on var whole_table_tests_weekday (Sunday by default), so a row
broken outside the window is found within a week. Each case copies the built warehouse, stores a
second copy of an event dated before the window (2026-01-08 to 2026-01-10; RUN_DATE is a Saturday),
and runs the uniqueness test of int_events_stitched alone.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from .conftest import BuiltWarehouse, run_dbt
from .raw_world import RUN_DATE

UNIQUE_EVENTS = "unique_int_events_stitched_event_id"
WINDOW_START = "2026-01-08"  # RUN_DATE minus lookback_days


def _status_with_an_old_duplicate(
    built_warehouse: BuiltWarehouse, work_dir: Path, run_date: str, *args: str
) -> str:
    warehouse = work_dir / built_warehouse.path.name
    shutil.copyfile(built_warehouse.path, warehouse)
    with duckdb.connect(str(warehouse)) as con:
        (old_day,) = con.execute(
            "select min(event_date) from intermediate.int_events_stitched where event_date < ?",
            [WINDOW_START],
        ).fetchone()
        con.execute(
            "insert into intermediate.int_events_stitched "
            "select * from intermediate.int_events_stitched where event_date = ? limit 1",
            [old_day],
        )
    result = run_dbt(
        ["build", "--select", UNIQUE_EVENTS, *args],
        warehouse,
        work_dir,
        extra_env={"REENGAGE_RUN_DATE": run_date},
    )
    statuses = {r["unique_id"].split(".")[2]: r["status"] for r in result.run_results.get("results", [])}
    assert UNIQUE_EVENTS in statuses, result.explain()
    return statuses[UNIQUE_EVENTS]


def test_a_daily_build_tests_only_the_rows_of_its_window(
    built_warehouse: BuiltWarehouse, tmp_path: Path
) -> None:
    # Guards the daily cost: a unique test over every event ever stored would grow with history.
    assert _status_with_an_old_duplicate(built_warehouse, tmp_path, RUN_DATE) == "pass"


@pytest.mark.parametrize(
    ("run_date", "args"),
    [
        ("2026-01-11", []),  # a Sunday: the default weekly whole-table day
        (RUN_DATE, ["--vars", json.dumps({"whole_table_tests_weekday": 6})]),  # Saturdays instead
        (RUN_DATE, ["--vars", json.dumps({"whole_table_tests_weekday": 0})]),  # every run
        (RUN_DATE, ["--full-refresh"]),
    ],
)
def test_the_weekly_and_the_full_refresh_builds_test_every_row(
    built_warehouse: BuiltWarehouse, tmp_path: Path, run_date: str, args: list[str]
) -> None:
    # Guards issue 22: windowed tests must not mean rows outside the window are never tested again
    # (a late login rewrites old events); the daily schedule reaches the weekly day by itself.
    assert _status_with_an_old_duplicate(built_warehouse, tmp_path, run_date, *args) == "fail"
