"""Each dbt model's materialization in the UI carries its table's row count, on DuckDB's single-writer file.

A real `dbt build` (through dagster-dbt) over the hand-written raw warehouse of tests/warehouse.
"""

from __future__ import annotations

import json

import dagster as dg
import duckdb

from reengage.defs.warehouse.assets import dbt_project
from reengage.defs.warehouse.row_counts import _relation, count_rows
from reengage.warehouse import WarehouseResource


def test_every_dbt_table_materialization_has_its_row_count(warehouse_built_by_dagster) -> None:
    result, warehouse = warehouse_built_by_dagster
    nodes = json.loads(dbt_project.manifest_path.read_text())["nodes"]
    materializations = result.get_asset_materialization_events()
    assert len(materializations) >= 15
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        for event in materializations:
            materialization = event.event_specific_data.materialization
            key = materialization.asset_key
            node = nodes[materialization.metadata["unique_id"].value]
            if node["config"]["materialized"] == "view":  # counting a view would run its whole query
                assert "dagster/row_count" not in materialization.metadata
                continue
            assert "dagster/row_count" in materialization.metadata, f"{key.to_user_string()} has no row count"
            schema, table = key.path[-2], key.path[-1]
            (actual,) = con.execute(f'select count(*) from "{schema}"."{table}"').fetchall()[0]
            assert materialization.metadata["dagster/row_count"].value == actual, key.to_user_string()
    finally:
        con.close()
    counts = {
        e.asset_key.path[-1]: e.event_specific_data.materialization.metadata["dagster/row_count"].value
        for e in materializations
        if "dagster/row_count" in e.event_specific_data.materialization.metadata
    }
    assert counts["fct_user_features"] > 0 and counts["fct_user_dormancy"] == counts["fct_user_features"]


def test_dbt_test_results_still_follow_the_model_they_judge(warehouse_built_by_dagster) -> None:
    result, _ = warehouse_built_by_dagster
    seen: set[dg.AssetKey] = set()
    checked = 0
    for event in result.all_events:
        if event.event_type_value == "ASSET_MATERIALIZATION":
            seen.add(event.asset_key)
        elif event.event_type_value == "ASSET_CHECK_EVALUATION":
            checked += 1
            evaluation = event.event_specific_data
            assert evaluation.asset_key in seen, f"{evaluation.check_name} came before its model"
    assert checked > 50  # the dbt data tests (not_null is a constraint, not a test)


def test_after_the_dbt_step_the_same_process_can_still_open_the_warehouse_read_only(
    warehouse_built_by_dagster,
) -> None:
    """Regression: dagster-dbt's fetch_row_counts() left dbt-duckdb's read-write connection open in
    the process, and every later step of the in-process daily job failed to connect read-only."""
    _, warehouse = warehouse_built_by_dagster
    with WarehouseResource(path=str(warehouse)).connect(read_only=True) as con:
        assert con.execute("select count(*) from marts.fct_user_features").fetchall()[0][0] > 0


def test_the_count_is_one_statement_over_tables_only(tmp_path) -> None:
    db = tmp_path / "w.duckdb"
    con = duckdb.connect(str(db))
    con.execute("create schema marts; create table marts.t as select * from range(7)")
    con.close()
    manifest = {
        "nodes": {
            "model.p.t": {"schema": "marts", "name": "t", "alias": "t", "config": {"materialized": "table"}},
            "model.p.v": {"schema": "marts", "name": "v", "alias": "v", "config": {"materialized": "view"}},
        }
    }
    assert _relation(manifest, "model.p.v") is None
    relations = {"model.p.t": _relation(manifest, "model.p.t")}
    assert count_rows(WarehouseResource(path=str(db)), relations) == {"model.p.t": 7}
