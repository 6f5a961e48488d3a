"""The scoring assets run as Dagster would run them: partitioned, against a DuckDB file and a model folder."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from churn_world import RUN_DATE, append_events, future_events, load_world, make_world

from reengage.defs.scoring.assets import (
    behaviour_cluster_model,
    behaviour_clusters,
    churn_model,
    churn_scores,
    preferred_send_hours,
)
from reengage.defs.warehouse.assets import model_key
from reengage.learning import registry
from reengage.warehouse import WarehouseResource
from tests.privacy.privacy_world import files_holding


@dataclass(frozen=True)
class DailyRun:
    warehouse: Path
    home: Path
    result: dg.ExecuteInProcessResult
    customers: int


@pytest.fixture(scope="module")
def daily_run(world_db: Path, tmp_path_factory: pytest.TempPathFactory) -> DailyRun:
    """One real materialization of both assets, shared by the tests that read it (runs are slow)."""
    root = tmp_path_factory.mktemp("daily_run")
    warehouse = root / "warehouse.duckdb"
    shutil.copy(world_db, warehouse)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REENGAGE_HOME", str(root / "home"))
        result = run(warehouse)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        (customers,) = con.execute(
            "select count(*) from staging.stg_crm__customers where signup_at < $d::date + 1", {"d": RUN_DATE}
        ).fetchall()[0]
    return DailyRun(warehouse=warehouse, home=root / "home", result=result, customers=customers)


def run(warehouse: Path, run_config: dict | None = None) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [churn_model, churn_scores],
        partition_key=RUN_DATE.isoformat(),
        resources={"warehouse": WarehouseResource(path=str(warehouse))},
        run_config=run_config,
    )


def metadata(result: dg.ExecuteInProcessResult, node: str) -> dict[str, object]:
    (event,) = result.asset_materializations_for_node(node)
    return {key: value.value for key, value in event.metadata.items()}


def stored_rows(warehouse: Path) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(
            "select run_date, count(*), count(distinct customer_id), min(model_version) "
            "from scoring.churn_scores group by run_date"
        ).fetchall()


def test_the_first_daily_run_without_a_model_trains_one_and_scores_every_customer(
    daily_run: DailyRun,
) -> None:
    # Cold start: a new install (or the demo) has no promoted model; the first run that can train does.
    model_meta = metadata(daily_run.result, "churn_model")
    assert model_meta["trained"] is True and model_meta["cold_start"] is True
    assert "cold start" in model_meta["why_trained"]
    assert model_meta["promoted"] is True
    assert model_meta["roc_auc"] > model_meta["baseline_roc_auc"]
    assert model_meta["model_version"] == registry.current_version(daily_run.home / "model_registry")
    scores_meta = metadata(daily_run.result, "churn_scores")
    assert scores_meta["dagster/row_count"] == daily_run.customers
    version = model_meta["model_version"]
    assert stored_rows(daily_run.warehouse) == [(RUN_DATE, daily_run.customers, daily_run.customers, version)]


def test_a_daily_run_with_a_promoted_model_does_not_train_and_a_rerun_does_not_rescore(
    daily_run: DailyRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Guards the daily job's cost: the churn model retrained inside every daily run (164 s of a 273 s
    # run) and a rerun of the same day trained and scored again although nothing had changed.
    monkeypatch.setenv("REENGAGE_HOME", str(daily_run.home))
    once = stored_rows(daily_run.warehouse)
    promotions = (daily_run.home / "model_registry" / "promotions.jsonl").read_text()

    result = run(daily_run.warehouse)

    model_meta = metadata(result, "churn_model")
    assert model_meta["trained"] is False
    assert model_meta["model_version"] == metadata(daily_run.result, "churn_model")["model_version"]
    assert "features contract matches" in model_meta["reason"]
    assert (daily_run.home / "model_registry" / "promotions.jsonl").read_text() == promotions
    scores_meta = metadata(result, "churn_scores")
    assert f"unchanged since run {daily_run.result.run_id}" in scores_meta["unchanged"]
    assert scores_meta["dagster/row_count"] == daily_run.customers
    assert stored_rows(daily_run.warehouse) == once


def test_a_rerun_after_a_late_event_for_the_day_scores_again(
    daily_run: DailyRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Guards the skip above against staleness: a changed input must always recompute.
    warehouse, _ = copy_run(daily_run, tmp_path, monkeypatch)
    with duckdb.connect(str(warehouse)) as con:
        (customer,) = con.execute(
            "select customer_id from scoring.churn_scores order by churn_probability desc limit 1"
        ).fetchall()[0]
        before = score_of(con, customer)
        append_events(con, future_events([customer], RUN_DATE - timedelta(days=1), days=1))

    result = run(warehouse)

    scores_meta = metadata(result, "churn_scores")
    assert "unchanged" not in scores_meta
    assert metadata(result, "churn_model")["trained"] is False
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert score_of(con, customer) < before  # an active action today makes churn less likely


def test_a_changed_features_contract_triggers_retraining_once(
    daily_run: DailyRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Guards the other half of the training rule: the model is retrained when what its features mean
    # changes (here a warehouse column's type), not only on the weekly schedule.
    warehouse, _ = copy_run(daily_run, tmp_path, monkeypatch)
    with duckdb.connect(str(warehouse)) as con:
        con.execute("alter table intermediate.int_events_stitched alter value type decimal(18, 4)")

    changed = run(warehouse)
    again = run(warehouse)

    model_meta = metadata(changed, "churn_model")
    assert model_meta["trained"] is True and model_meta["cold_start"] is False
    assert "features contract changed" in model_meta["why_trained"]
    assert "column intermediate.int_events_stitched.value" in model_meta["why_trained"]
    assert model_meta["features_contract"] != metadata(daily_run.result, "churn_model")["features_contract"]
    assert metadata(again, "churn_model")["trained"] is False


def test_the_weekly_training_config_trains_even_when_the_model_is_current(
    daily_run: DailyRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    warehouse, _ = copy_run(daily_run, tmp_path, monkeypatch)
    with duckdb.connect(str(warehouse)) as con:  # a late event: the day's training rows are not the same
        (customer,) = con.execute("select customer_id from scoring.churn_scores limit 1").fetchall()[0]
        append_events(con, future_events([customer], RUN_DATE - timedelta(days=1), days=1))

    result = run(warehouse, {"ops": {"churn_model": {"config": {"retrain": True}}}})

    model_meta = metadata(result, "churn_model")
    assert model_meta["trained"] is True
    assert "requested" in model_meta["why_trained"]


def test_the_weekly_training_of_a_day_already_trained_on_the_same_rows_is_not_repeated(
    daily_run: DailyRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Same rows, config and features contract give the same candidate (its version is their digest).
    warehouse, _ = copy_run(daily_run, tmp_path, monkeypatch)

    result = run(warehouse, {"ops": {"churn_model": {"config": {"retrain": True}}}})

    model_meta = metadata(result, "churn_model")
    assert model_meta["trained"] is False
    assert f"unchanged since run {daily_run.result.run_id}" in model_meta["unchanged"]
    assert model_meta["model_version"] == metadata(daily_run.result, "churn_model")["model_version"]


def copy_run(daily_run: DailyRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A private copy of the daily run's warehouse and home (registry), for a test that changes them."""
    warehouse, home = tmp_path / "warehouse.duckdb", tmp_path / "home"
    shutil.copy(daily_run.warehouse, warehouse)
    shutil.copytree(daily_run.home, home)
    monkeypatch.setenv("REENGAGE_HOME", str(home))
    return warehouse, home


def score_of(con: duckdb.DuckDBPyConnection, customer: str) -> float:
    return con.execute(
        "select churn_probability from scoring.churn_scores where customer_id = ? and run_date = ?",
        [customer, RUN_DATE],
    ).fetchall()[0][0]


def one_customer_one_event(tmp_path: Path) -> Path:
    """A warehouse with far too little history to train on."""
    warehouse = tmp_path / "small.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        load_world(
            con,
            make_world(
                [("a", "2024-05-01T00:00:00Z", "free")], [("a", "purchase", "2024-05-02T10:00:00Z", 1.0)]
            ),
        )
    return warehouse


def test_without_enough_history_the_run_succeeds_and_says_why_there_are_no_scores(tmp_path: Path) -> None:
    warehouse = one_customer_one_event(tmp_path)

    result = run(warehouse)

    assert result.success
    model_meta = metadata(result, "churn_model")
    assert model_meta["promoted"] is False
    assert "history too short" in model_meta["reason"]
    scores_meta = metadata(result, "churn_scores")
    assert scores_meta["dagster/row_count"] == 0
    assert "no promoted churn model" in scores_meta["reason"]
    assert stored_rows(warehouse) == []  # the table exists, so downstream readers do not fail


def test_a_cold_start_that_could_not_train_tries_again_only_when_the_days_rows_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Guards the rerun rule for a new install: until a model is promoted every daily run tries to
    # train, and a rerun of the same day trained again on the same rows to reach the same verdict.
    monkeypatch.setenv("REENGAGE_HOME", str(tmp_path / "home"))
    warehouse = one_customer_one_event(tmp_path)
    first = run(warehouse)

    rerun = run(warehouse)

    assert metadata(first, "churn_model")["why_trained"].startswith("cold start")
    unchanged = metadata(rerun, "churn_model")["unchanged"]
    assert f"unchanged since run {first.run_id}" in unchanged and "keeping no model" in unchanged
    with duckdb.connect(str(warehouse)) as con:
        append_events(con, future_events(["a"], RUN_DATE - timedelta(days=1), days=1))

    changed = run(warehouse)

    model_meta = metadata(changed, "churn_model")
    assert "unchanged" not in model_meta
    assert "history too short" in model_meta["reason"]  # tried again on the new rows


def test_assets_are_described_grouped_and_partitioned() -> None:
    for asset in (
        churn_model,
        churn_scores,
        behaviour_cluster_model,
        behaviour_clusters,
        preferred_send_hours,
    ):
        spec = next(iter(asset.specs))
        assert spec.group_name == "scoring"
        assert "duckdb" in spec.kinds
        assert spec.description and "\n" not in spec.description.strip()
        assert asset.partitions_def is not None
    deps = {dep.asset_key for dep in next(iter(churn_scores.specs)).deps}
    assert dg.AssetKey(["churn_model"]) in deps
    assert model_key("int_events_stitched") in deps
    assert model_key("fct_user_features") in {
        dep.asset_key for dep in next(iter(behaviour_clusters.specs)).deps
    }


def test_training_and_scoring_metadata_carry_plots_and_importance(daily_run: DailyRun) -> None:
    model_meta = metadata(daily_run.result, "churn_model")
    for key in ("calibration", "feature_importance"):
        text = model_meta[key]
        assert "data:image/png;base64," in text
        assert len(text) < 60_000  # small enough for the event log
    assert "days_since_last_active" in model_meta["feature_importance"]
    assert model_meta["top_feature"].split(" ")[0] in model_meta["feature_importance"]
    scores_meta = metadata(daily_run.result, "churn_scores")
    assert "data:image/png;base64," in scores_meta["score_distribution"]


def test_a_saved_churn_model_holds_no_customer_id_or_address_as_bytes(daily_run: DailyRun) -> None:
    # Guards erasure leaving a person in a file the product owns: the byte search after an erasure
    # (tests/privacy) runs on a world too young to train a model, so no model file was ever searched.
    # A model keeps what it learned from people, never who they were: then erasing the warehouse rows
    # is enough, and no model needs retraining or rewriting for an erasure.
    with duckdb.connect(str(daily_run.warehouse), read_only=True) as con:
        people = con.execute("select customer_id, email from staging.stg_crm__customers").fetchall()
    ids = b"|".join(re.escape(customer.encode()) for customer, _ in people)
    patterns = {
        "customer id": rb"(?<![0-9A-Za-z_])(?:" + ids + rb")(?![0-9A-Za-z_])",
        "address": b"|".join(re.escape(email.encode()) for _, email in people),
    }
    registry_dir = daily_run.home / "model_registry"
    assert list(registry_dir.rglob(registry.MODEL_FILE)) and list(registry_dir.rglob(registry.CARD_FILE))
    # Model files are zip archives: the search reads what they hold as well as their stored bytes.
    assert files_holding([daily_run.home], patterns) == []
    assert files_holding([daily_run.warehouse.parent], patterns), "the search sees who is in the warehouse"
