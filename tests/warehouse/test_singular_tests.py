"""The gap test (dbt_project/tests) fails on sessions that break the gap rule.

Each case damages one c_sessions event (raw_world.py: 10:00, 10:30, 11:00:01)
in a copy of the built warehouse, then runs the test alone over every event.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from .conftest import BuiltWarehouse, run_dbt
from .raw_world import RUN_DATE

GAP_TEST = "assert_no_gap_inside_a_session_exceeds_the_session_gap"

DAMAGES = {
    # 10:30 opens a session though it is only 30 minutes after 10:00
    "split_inside_the_gap": "session_start_at = event_ts, session_event_number = 1 where event_id = 'ses_2'",
    # 11:00:01 joins the 10:00 session though 30 minutes and 1 second passed
    "merged_across_the_gap": (
        "session_start_at = timestamp '2026-01-05 10:00:00', session_event_number = 3"
        " where event_id = 'ses_3'"
    ),
    # the second event of a session numbered 3
    "numbering_skips": "session_event_number = 3 where event_id = 'ses_2'",
}


def run_gap_test(warehouse: Path, work_dir: Path) -> str:
    # --full-refresh: the test reads every event, not only the run's window
    result = run_dbt(
        ["build", "--full-refresh", "--select", GAP_TEST, "--vars", json.dumps({"run_date": RUN_DATE})],
        warehouse,
        work_dir,
    )
    statuses = {r["unique_id"].split(".")[2]: r["status"] for r in result.run_results.get("results", [])}
    assert GAP_TEST in statuses, result.explain()
    return statuses[GAP_TEST]


def test_the_gap_test_passes_on_every_event_of_the_built_warehouse(
    built_warehouse: BuiltWarehouse, tmp_path: Path
) -> None:
    warehouse = tmp_path / "clean.duckdb"
    shutil.copyfile(built_warehouse.path, warehouse)
    assert run_gap_test(warehouse, tmp_path) == "pass"


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_the_gap_test_fails_on_sessions_that_break_the_gap_rule(
    built_warehouse: BuiltWarehouse, damage: str, tmp_path: Path
) -> None:
    warehouse = tmp_path / "damaged.duckdb"
    shutil.copyfile(built_warehouse.path, warehouse)
    with duckdb.connect(str(warehouse)) as con:
        updated = con.execute(f"update intermediate.int_events_sessionized set {DAMAGES[damage]}").fetchone()
    assert updated == (1,)
    assert run_gap_test(warehouse, tmp_path) == "fail"
