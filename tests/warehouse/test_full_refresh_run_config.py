"""The dbt build's run config `full_refresh`: the way, from Dagster, to rebuild a warehouse whose
incremental tables predate a new column (they are on_schema_change='fail', so a daily run stops)."""

from __future__ import annotations

import shutil

import duckdb
import pytest

from tests.warehouse.dagster_run import materialize_warehouse_models

# Guards the project's own calls of APIs Dagster deprecated (context.run_id), noise in every run's output.
pytestmark = pytest.mark.filterwarnings(
    "error:.* will be removed in a future release:DeprecationWarning:reengage"
)


def _columns(warehouse, schema: str, table: str) -> list[str]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = con.execute(
            "select column_name from information_schema.columns where table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchall()
    finally:
        con.close()
    return [name for (name,) in rows]


def test_full_refresh_rebuilds_an_incremental_table_built_before_a_new_column(
    tmp_path, warehouse_built_by_dagster
) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(warehouse_built_by_dagster[1], warehouse)

    # a warehouse built before int_events_sessionized gained session_event_number
    con = duckdb.connect(str(warehouse))
    con.execute("alter table intermediate.int_events_sessionized drop column session_event_number")
    con.close()
    assert "session_event_number" not in _columns(warehouse, "intermediate", "int_events_sessionized")

    result = materialize_warehouse_models(
        tmp_path, warehouse, {"ops": {"warehouse_models": {"config": {"full_refresh": True}}}}
    )

    assert result.success
    assert "session_event_number" in _columns(warehouse, "intermediate", "int_events_sessionized")
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        (unnumbered,) = con.execute(
            "select count(*) from intermediate.int_events_sessionized where session_event_number is null"
        ).fetchone()
        (sessions,) = con.execute("select count(*) from marts.fct_sessions").fetchone()
    finally:
        con.close()
    assert unnumbered == 0
    assert sessions > 0
