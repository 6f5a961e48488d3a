"""Behaviour clusters and send hours as Dagster runs them; the scoring jobs and schedules are defined."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from churn_world import RUN_DATE

from models.features import snapshot_features
from orchestration.definitions import build_definitions
from orchestration.defs.scoring.assets import behaviour_clusters, preferred_send_hours
from orchestration.warehouse import WarehouseResource

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
    return path


def run(warehouse: Path, run_config: dict | None = None) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [behaviour_clusters, preferred_send_hours],
        partition_key=RUN_DATE.isoformat(),
        resources={"warehouse": WarehouseResource(path=str(warehouse))},
        run_config=run_config,
    )


def metadata(result: dg.ExecuteInProcessResult, node: str) -> dict[str, object]:
    (event,) = result.asset_materializations_for_node(node)
    return {key: value.value for key, value in event.metadata.items()}


def test_clusters_and_send_hours_cover_every_customer_and_rerun_identically(features_warehouse: Path) -> None:
    config = {"ops": {"behaviour_clusters": {"config": {"k_min": 2, "k_max": 5, "silhouette_sample": 400}}}}
    first = run(features_warehouse, config)
    assert first.success
    with duckdb.connect(str(features_warehouse), read_only=True) as con:
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

    meta = metadata(first, "behaviour_clusters")
    assert 2 <= meta["k"] <= 5
    assert "(chosen)" in meta["silhouette_by_k"]
    assert meta["profile"].count("\n") == 1 + meta["k"]
    assert metadata(first, "preferred_send_hours")["dagster/row_count"] == customers

    second = run(features_warehouse, config)
    with duckdb.connect(str(features_warehouse), read_only=True) as con:
        again = con.execute(CLUSTERS_SQL).fetchall()
    assert again == clusters  # same seed, same labels; the rerun replaced the partition
    assert metadata(second, "behaviour_clusters")["labels"] == meta["labels"]


def test_scoring_jobs_and_schedules_are_in_the_definitions() -> None:
    defs = build_definitions()
    training = defs.resolve_job_def("churn_training")
    scoring = defs.resolve_job_def("daily_scoring")
    assert training.partitions_def is not None and scoring.partitions_def is not None
    graph = defs.resolve_asset_graph()
    assert {k.to_user_string() for k in training.asset_layer.executable_asset_keys} == {"churn_model"}
    assert {k.to_user_string() for k in scoring.asset_layer.executable_asset_keys} == {
        "churn_scores",
        "behaviour_clusters",
        "preferred_send_hours",
    }
    assert dg.AssetKey("behaviour_clusters") in graph.get_all_asset_keys()

    daily = defs.resolve_schedule_def("daily_scoring_schedule")
    assert daily.job_name == "daily_scoring"
    assert daily.cron_schedule == "0 7 * * *"

    weekly = defs.resolve_schedule_def("weekly_churn_retrain")
    assert weekly.job_name == "churn_training"
    assert weekly.cron_schedule == "0 5 * * 1"
    context = dg.build_schedule_context(
        scheduled_execution_time=datetime(2024, 5, 13, 5, 0), repository_def=defs.get_repository_def()
    )
    (request,) = weekly.evaluate_tick(context).run_requests
    assert request.partition_key == "2024-05-12"
