"""Behaviour clusters and send hours as Dagster runs them; the scoring jobs and schedules are defined."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from churn_world import RUN_DATE, build_quarter_hours

from reengage.definitions import build_definitions
from reengage.defs.scoring.assets import (
    behaviour_cluster_model,
    behaviour_clusters,
    preferred_send_hours,
)
from reengage.learning.features import snapshot_features
from reengage.warehouse import WarehouseResource

ZONES = ["America/New_York", "Europe/Berlin", "Asia/Tokyo", "UTC"]
SEGMENTS = ["engaged", "at_risk", "dormant", "lapsed"]
CLUSTERS_SQL = (
    "select customer_id, run_date, cluster_id, cluster_label from scoring.behaviour_clusters order by 1"
)


@pytest.fixture(scope="module")
def features_warehouse(world_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic world plus a stand-in marts.fct_user_features with the contracted columns used here."""
    path = tmp_path_factory.mktemp("features") / "warehouse.duckdb"
    shutil.copy(world_db, path)
    with duckdb.connect(str(path)) as con:
        frame = snapshot_features(con, RUN_DATE)
        frame["sessions_28d"] = frame["events_28d"] // 3
        frame["timezone"] = [ZONES[i % len(ZONES)] for i in range(len(frame))]
        frame["segment"] = [SEGMENTS[i % len(SEGMENTS)] for i in range(len(frame))]
        con.register("_features", frame)
        con.execute("create schema marts; create table marts.fct_user_features as select * from _features")
        build_quarter_hours(con)
    return path


def run(warehouse: Path, run_config: dict | None = None) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [behaviour_cluster_model, behaviour_clusters, preferred_send_hours],
        partition_key=RUN_DATE.isoformat(),
        resources={"warehouse": WarehouseResource(path=str(warehouse))},
        run_config=run_config,
    )


def metadata(result: dg.ExecuteInProcessResult, node: str) -> dict[str, object]:
    (event,) = result.asset_materializations_for_node(node)
    return {key: value.value for key, value in event.metadata.items()}


CLUSTER_CONFIG = {
    "ops": {"behaviour_cluster_model": {"config": {"k_min": 2, "k_max": 5, "silhouette_sample": 400}}}
}


@pytest.fixture
def warehouse(features_warehouse: Path, tmp_path: Path) -> Path:
    path = tmp_path / "warehouse.duckdb"
    shutil.copy(features_warehouse, path)
    return path


def test_clusters_and_send_hours_cover_every_customer(warehouse: Path) -> None:
    first = run(warehouse, CLUSTER_CONFIG)
    assert first.success
    with duckdb.connect(str(warehouse), read_only=True) as con:
        (customers,) = con.execute("select count(*) from marts.fct_user_features").fetchall()[0]
        clusters = con.execute(CLUSTERS_SQL).fetchall()
        hours = con.execute(
            "select source, count(*), min(preferred_local_hour), max(preferred_local_hour) "
            "from scoring.preferred_send_hours group by source"
        ).fetchall()
    assert len(clusters) == customers
    assert {row[1] for row in clusters} == {RUN_DATE}
    assert sum(n for _, n, _, _ in hours) == customers
    assert all(0 <= lo <= hi <= 23 for _, _, lo, hi in hours)
    assert {source for source, *_ in hours} <= {"user", "segment", "default"}

    model_meta = metadata(first, "behaviour_cluster_model")
    assert model_meta["fitted"] is True and model_meta["cold_start"] is True  # nothing fitted before
    assert "(chosen)" in model_meta["silhouette_by_k"]
    meta = metadata(first, "behaviour_clusters")
    assert 2 <= meta["k"] <= 5
    assert meta["cluster_model"] == model_meta["cluster_model"]
    assert meta["profile"].count("\n") == 1 + meta["k"]
    assert metadata(first, "preferred_send_hours")["dagster/row_count"] == customers


def test_a_rerun_of_an_unchanged_day_neither_refits_nor_reassigns_clusters_nor_recomputes_send_hours(
    warehouse: Path,
) -> None:
    # Guards the daily job's cost: behaviour clusters were refitted in every daily run (8-12 s), and a
    # rerun of a day repeated every step although none of its inputs had changed.
    first = run(warehouse, CLUSTER_CONFIG)
    clusters, hours = stored(warehouse)

    second = run(warehouse, CLUSTER_CONFIG)

    model_meta = metadata(second, "behaviour_cluster_model")
    assert model_meta["fitted"] is False
    assert model_meta["cluster_model"] == metadata(first, "behaviour_cluster_model")["cluster_model"]
    for step in ("behaviour_clusters", "preferred_send_hours"):
        assert f"unchanged since run {first.run_id}" in metadata(second, step)["unchanged"], step
    assert stored(warehouse) == (clusters, hours)


def test_changed_behaviour_is_assigned_to_the_fitted_clusters_without_a_refit(warehouse: Path) -> None:
    # Guards "fit on a schedule, assign daily": new behaviour moves a customer between the stored
    # clusters (same ids and labels), and does not refit them.
    first = run(warehouse, CLUSTER_CONFIG)
    with duckdb.connect(str(warehouse)) as con:
        before = dict(
            con.execute("select customer_id, cluster_id from scoring.behaviour_clusters").fetchall()
        )
        con.execute(
            "update marts.fct_user_features set days_since_last_active = 0, active_actions_7d = 40, "
            "sessions_28d = 60, events_28d = 400 where customer_id = (select min(customer_id) "
            "from marts.fct_user_features where days_since_last_active > 30)"
        )

    second = run(warehouse, CLUSTER_CONFIG)

    assert metadata(second, "behaviour_cluster_model")["fitted"] is False
    meta = metadata(second, "behaviour_clusters")
    assert "unchanged" not in meta
    assert meta["labels"] == metadata(first, "behaviour_clusters")["labels"]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        after = dict(con.execute("select customer_id, cluster_id from scoring.behaviour_clusters").fetchall())
    moved = {c for c in before if before[c] != after[c]}
    assert len(moved) == 1  # only the customer whose behaviour changed


def test_a_new_activity_slot_recomputes_the_send_hours(warehouse: Path) -> None:
    first = run(warehouse, CLUSTER_CONFIG)
    with duckdb.connect(str(warehouse)) as con:
        con.execute(
            "insert into intermediate.int_customer_quarter_hours "
            "select customer_id, activity_date, quarter_hour_start + interval 3 hours, 1 "
            "from intermediate.int_customer_quarter_hours order by all limit 1"
        )

    second = run(warehouse, CLUSTER_CONFIG)

    assert "unchanged" not in metadata(second, "preferred_send_hours")
    assert f"unchanged since run {first.run_id}" in metadata(second, "behaviour_clusters")["unchanged"]


def test_a_changed_behaviour_features_contract_refits_the_clusters(warehouse: Path) -> None:
    run(warehouse, CLUSTER_CONFIG)
    with duckdb.connect(str(warehouse)) as con:
        con.execute("alter table marts.fct_user_features alter revenue_90d type decimal(18, 2)")

    changed = run(warehouse, CLUSTER_CONFIG)

    model_meta = metadata(changed, "behaviour_cluster_model")
    assert model_meta["fitted"] is True and model_meta["cold_start"] is False
    assert "column marts.fct_user_features.revenue_90d" in model_meta["why_fitted"]
    assert metadata(run(warehouse, CLUSTER_CONFIG), "behaviour_cluster_model")["fitted"] is False


def stored(warehouse: Path) -> tuple[list[tuple], list[tuple]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return (
            con.execute(CLUSTERS_SQL).fetchall(),
            con.execute("select * from scoring.preferred_send_hours order by customer_id").fetchall(),
        )


def test_scoring_jobs_and_schedules_are_in_the_definitions() -> None:
    defs = build_definitions()
    training = defs.resolve_job_def("model_training")
    scoring = defs.resolve_job_def("daily_scoring")
    assert training.partitions_def is not None and scoring.partitions_def is not None
    graph = defs.resolve_asset_graph()
    assert {k.to_user_string() for k in training.asset_layer.executable_asset_keys} == {
        "churn_model",
        "behaviour_cluster_model",
        "uplift_scores",
    }
    assert {k.to_user_string() for k in scoring.asset_layer.executable_asset_keys} == {
        "churn_model",
        "churn_scores",
        "behaviour_cluster_model",
        "behaviour_clusters",
        "preferred_send_hours",
        "uplift_scores",
    }
    assert dg.AssetKey("behaviour_clusters") in graph.get_all_asset_keys()

    daily = defs.resolve_schedule_def("daily_scoring_schedule")
    assert daily.job_name == "daily_scoring"
    assert daily.cron_schedule == "0 7 * * *"

    weekly = defs.resolve_schedule_def("weekly_model_training")
    assert weekly.job_name == "model_training"
    assert weekly.cron_schedule == "0 5 * * 1"
    context = dg.build_schedule_context(
        scheduled_execution_time=datetime(2024, 5, 13, 5, 0), repository_def=defs.get_repository_def()
    )
    (request,) = weekly.evaluate_tick(context).run_requests
    assert request.partition_key == "2024-05-12"
