"""A setting that changes what stored history means cannot silently mix two meanings in it."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest

from reengage.defs.warehouse import build_state, manifest, meanings
from reengage.schema.migrations import migrate
from tests.warehouse.dagster_run import materialize_warehouse_models

DAY = date(2025, 3, 10)
FULL_REFRESH = {"ops": {"warehouse_models": {"config": {"full_refresh": True}}}}


def _failure(result) -> str:
    (event,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    return event.step_failure_data.error.message


def _builds(warehouse: Path) -> int:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(f"select count(*) from {build_state.TABLE}").fetchone()[0]


def test_the_settings_behind_stored_history_are_found_from_the_project() -> None:
    found = meanings.current_meanings()
    assert {"dbt var session_gap_minutes", "dbt seed event_catalog"} <= set(found)
    # Table models are rebuilt whole every run: their settings mean nothing for stored history.
    assert "dbt var dormant_after_days" not in found
    assert not {f"dbt var {name}" for name in meanings.OPERATIONAL_VARS} & set(found)


def test_a_changed_session_gap_refuses_the_next_build_until_a_full_refresh(
    tmp_path: Path, warehouse_built_by_dagster, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Guards the silent corruption: a new session_gap_minutes used to leave old sessions in the
    # old gap beside new ones in the new gap, with no test failing.
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(warehouse_built_by_dagster[1], warehouse)
    builds = _builds(warehouse)
    values = manifest.project_vars()
    monkeypatch.setattr(
        manifest,
        "project_vars",
        lambda: {**values, "session_gap_minutes": values["session_gap_minutes"] + 15},
    )

    refused = materialize_warehouse_models(tmp_path, warehouse, raise_on_error=False)
    assert not refused.success
    message = _failure(refused)
    assert "Failure: dbt var session_gap_minutes changed since the warehouse's stored history" in message
    assert "full_refresh: true" in message
    assert _builds(warehouse) == builds, "refused before dbt started: no build recorded"

    assert materialize_warehouse_models(tmp_path, warehouse, FULL_REFRESH).success
    assert materialize_warehouse_models(tmp_path, warehouse).success, (
        "the new meaning is now the recorded one"
    )


def test_a_warehouse_that_recorded_no_meanings_adopts_todays_and_then_holds_them(tmp_path: Path) -> None:
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        migrate(con)
        build_state.record_start(con, "b1", DAY, DAY, False)
        build_state.record_completion(con, "b1")
        meanings.check(con, {"dbt var session_gap_minutes": "a"}, full_refresh=False)  # nothing recorded
        meanings.record(con, {"dbt var session_gap_minutes": "a"}, "b1")
        # A var a newer version reads for the first time is adopted, not refused.
        meanings.check(con, {"dbt var session_gap_minutes": "a", "dbt var new_window": "x"}, False)
        with pytest.raises(meanings.MeaningChanged, match="^dbt var session_gap_minutes changed"):
            meanings.check(con, {"dbt var session_gap_minutes": "b"}, full_refresh=False)
        meanings.check(con, {"dbt var session_gap_minutes": "b"}, full_refresh=True)
