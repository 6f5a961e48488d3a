"""The singular tests (dbt_project/tests) fail on the data they guard against: the gap test on
sessions that break the gap rule, the refused-rows test on a refused CRM row that names nobody.

Each gap case damages one c_sessions event (raw_world.py: 10:00, 10:30, 11:00:01)
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


def run_singular_test(name: str, warehouse: Path, work_dir: Path) -> str:
    """The status of one singular test (pass, warn, fail) run alone on `warehouse`."""
    # --full-refresh: the test reads every row, not only the run's window
    result = run_dbt(
        ["build", "--full-refresh", "--select", name, "--vars", json.dumps({"run_date": RUN_DATE})],
        warehouse,
        work_dir,
    )
    statuses = {r["unique_id"].split(".")[2]: r["status"] for r in result.run_results.get("results", [])}
    assert name in statuses, result.explain()
    return statuses[name]


def run_gap_test(warehouse: Path, work_dir: Path) -> str:
    return run_singular_test(GAP_TEST, warehouse, work_dir)


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


NAMES_NOBODY_TEST = "assert_every_refused_crm_row_names_a_customer_or_an_address"


@pytest.mark.parametrize(
    ("raw_record", "status"),
    [
        ('{"customer_id": "c_new", "email": null}', "pass"),  # tied by id
        ('{"customer_id": " ", "email": "Someone@Example.com"}', "pass"),  # tied by address
        ('{"_line": 7}', "warn"),  # a CSV line nobody could read: ties to nobody
    ],
)
def test_a_refused_crm_row_that_names_nobody_raises_a_warning(
    built_warehouse: BuiltWarehouse, tmp_path: Path, raw_record: str, status: str
) -> None:
    # Guards the one gap the refused-row rule leaves: such a row cannot hold anybody back, so a person
    # must hear of it rather than find it in the quarantine by chance.
    # same file name: DuckDB views (the staging model) name the database they were made in
    warehouse = tmp_path / built_warehouse.path.name
    shutil.copyfile(built_warehouse.path, warehouse)
    with duckdb.connect(str(warehouse)) as con:
        con.execute(
            "insert into raw.quarantine values ('customers', 'customers/customers_2026-01-10.csv', 9, null, "
            "'malformed CSV', ?, false, date '2026-01-10', now())",
            [raw_record],
        )
    assert run_singular_test(NAMES_NOBODY_TEST, warehouse, tmp_path) == status
