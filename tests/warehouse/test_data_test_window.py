"""Data tests of the incremental tables check what the day's build wrote, and every row once a week.

A daily build tests the rows of its incremental window and the rows it rewrote before the window
(the old anonymous events of a device a late login re-attributed, the sessions of an owner rebuilt
from an earlier point); every row is tested on a full refresh and on the run dates that fall on var
whole_table_tests_weekday (Sunday by default), so a row broken outside what any build wrote is
found within a week. Each case copies the built warehouse, stores a second copy of a row dated
before the window (2026-01-08 to 2026-01-10; RUN_DATE is a Saturday), and runs one uniqueness test
alone, so the bookkeeping tables the build left (int_identity_relinks, int_session_rebuilds) say
what the day rewrote.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from .conftest import BuiltWarehouse, run_dbt
from .raw_world import RUN_DATE

UNIQUE_EVENTS = "unique_int_events_stitched_event_id"
UNIQUE_SESSIONS = "unique_fct_sessions_session_id"
WINDOW_START = "2026-01-08"  # RUN_DATE minus lookback_days
OLD_DEVICE = "anon_seen_long_ago"

Setup = Callable[[duckdb.DuckDBPyConnection], None]


def _forget_rebuilds(con: duckdb.DuckDBPyConnection) -> None:
    # a day whose build rewrote nothing before the window
    con.execute("delete from intermediate.int_identity_relinks")
    con.execute("delete from intermediate.int_session_rebuilds")


def _duplicate_an_old_event(con: duckdb.DuckDBPyConnection) -> str:
    """Store a second copy of an event dated before the window, made a device's anonymous event.

    Returns the device. (The hand-written world's old events are all logged in.)
    """
    (event_id,) = con.execute(
        "select event_id from intermediate.int_events_stitched where event_date < ? "
        "order by event_ts limit 1",
        [WINDOW_START],
    ).fetchone()
    con.execute(
        "update intermediate.int_events_stitched set user_id = null, anonymous_id = ? where event_id = ?",
        [OLD_DEVICE, event_id],
    )
    con.execute(
        "insert into intermediate.int_events_stitched select * from intermediate.int_events_stitched "
        "where event_id = ?",
        [event_id],
    )
    return OLD_DEVICE


def _duplicate_an_old_session(con: duckdb.DuckDBPyConnection) -> tuple[str, str]:
    """Store a second copy of a session started before the window; returns its owner and start."""
    owner, start = con.execute(
        "select session_owner, cast(session_start_at as varchar) from marts.fct_sessions "
        "where session_date < ? order by session_start_at limit 1",
        [WINDOW_START],
    ).fetchone()
    con.execute(
        "insert into marts.fct_sessions select * from marts.fct_sessions "
        "where session_owner = ? and session_start_at = cast(? as timestamp)",
        [owner, start],
    )
    return owner, start


@pytest.fixture(scope="module")
def work_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # one folder and warehouse path for the module, so dbt reuses its parse from the second case on
    return tmp_path_factory.mktemp("data_test_window")


def _status(
    built_warehouse: BuiltWarehouse, work_dir: Path, setup: Setup, test: str, run_date: str, *args: str
) -> str:
    warehouse = work_dir / built_warehouse.path.name
    shutil.copyfile(built_warehouse.path, warehouse)
    with duckdb.connect(str(warehouse)) as con:
        _forget_rebuilds(con)
        setup(con)
    result = run_dbt(
        ["build", "--select", test, *args], warehouse, work_dir, extra_env={"REENGAGE_RUN_DATE": run_date}
    )
    statuses = {r["unique_id"].split(".")[2]: r["status"] for r in result.run_results.get("results", [])}
    assert test in statuses, result.explain()
    return statuses[test]


def test_a_daily_build_tests_only_the_rows_its_build_wrote(
    built_warehouse: BuiltWarehouse, work_dir: Path
) -> None:
    # Guards the daily cost: a unique test over every event ever stored would grow with history.
    assert _status(built_warehouse, work_dir, _duplicate_an_old_event, UNIQUE_EVENTS, RUN_DATE) == "pass"


def test_a_daily_build_tests_the_old_events_a_late_login_re_attributed(
    built_warehouse: BuiltWarehouse, work_dir: Path
) -> None:
    # Guards against untested rewrites: windowed tests checked only the window's dates, while a late
    # login rewrites the device's anonymous events of any age (strategy append_with_relinks).
    def relinked_duplicate(con: duckdb.DuckDBPyConnection) -> None:
        device = _duplicate_an_old_event(con)
        # the customer it maps to now does not matter to the test (the table refuses a null one)
        con.execute(
            "insert into intermediate.int_identity_relinks (anonymous_id, customer_id) values (?, 'c_new')",
            [device],
        )

    assert _status(built_warehouse, work_dir, relinked_duplicate, UNIQUE_EVENTS, RUN_DATE) == "fail"


def _an_old_session_duplicated_and_rebuilt(seconds_after_its_start: int) -> Setup:
    """A duplicated old session whose owner the day's build rebuilt from `seconds_after_its_start`."""

    def setup(con: duckdb.DuckDBPyConnection) -> None:
        owner, start = _duplicate_an_old_session(con)
        con.execute(
            "insert into intermediate.int_session_rebuilds (session_owner, customer_id, anonymous_id, "
            "owner_id, is_anonymous, rebuild_from, rebuild_from_date) "
            "select session_owner, customer_id, anonymous_id, coalesce(customer_id, anonymous_id), "
            "is_anonymous, session_start_at + to_seconds(cast(? as bigint)), session_date "
            "from marts.fct_sessions "
            "where session_owner = ? and session_start_at = cast(? as timestamp) limit 1",
            [seconds_after_its_start, owner, start],
        )

    return setup


def test_a_daily_build_tests_the_old_sessions_of_an_owner_it_rebuilt(
    built_warehouse: BuiltWarehouse, work_dir: Path
) -> None:
    # Guards against untested rewrites: an owner whose sessions the build rebuilt from before the
    # window (a device's history moved to a customer) had those sessions rewritten but not tested.
    rebuilt_at_its_start = _an_old_session_duplicated_and_rebuilt(0)
    assert _status(built_warehouse, work_dir, rebuilt_at_its_start, UNIQUE_SESSIONS, RUN_DATE) == "fail"


def test_a_daily_build_skips_the_sessions_before_an_owners_rebuild_point(
    built_warehouse: BuiltWarehouse, work_dir: Path
) -> None:
    # Guards the daily cost of the case above: only the rebuilt tail is tested, not the owner's history.
    rebuilt_after_it = _an_old_session_duplicated_and_rebuilt(1)
    assert _status(built_warehouse, work_dir, rebuilt_after_it, UNIQUE_SESSIONS, RUN_DATE) == "pass"


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
    built_warehouse: BuiltWarehouse, work_dir: Path, run_date: str, args: list[str]
) -> None:
    # Guards the weekly check: windowed tests must not mean rows outside the window are never tested again
    # (a row changed outside any build); the daily schedule reaches the weekly day by itself.
    # Last in the module: --vars and --full-refresh make the next command parse in full.
    status = _status(built_warehouse, work_dir, _duplicate_an_old_event, UNIQUE_EVENTS, run_date, *args)
    assert status == "fail"
