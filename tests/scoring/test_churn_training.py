"""Training: time-based holdout, determinism, calibration, the recency baseline, and clear refusals."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import duckdb
import numpy as np
import pytest
from churn_world import RUN_DATE, WORLD_START, append_events, future_events, load_world, make_world

from reengage.learning.churn import TrainedModel, TrainingConfig, TrainingError, plan_snapshots, train
from reengage.learning.features import LABEL


def test_holdout_is_the_latest_snapshot_whose_labels_are_complete(trained: TrainedModel) -> None:
    window = trained.training_window

    assert window.holdout_snapshot == RUN_DATE - timedelta(days=14)
    assert all(d < window.holdout_snapshot for d in window.train_snapshots)
    gaps = np.diff([*window.train_snapshots, window.holdout_snapshot])
    assert {gap.days for gap in gaps} == {7}
    assert window.train_snapshots[0] >= WORLD_START + timedelta(days=28)  # warm-up respected
    assert set(trained.holdout["snapshot_date"]) == {window.holdout_snapshot}


def test_snapshots_stop_where_the_events_stop(world_db: Path) -> None:
    # A run date past the last loaded event must not label customers churned for days nobody observed.
    with duckdb.connect(str(world_db), read_only=True) as con:
        window = plan_snapshots(con, RUN_DATE + timedelta(days=5), TrainingConfig())

    assert window.label_complete_through == RUN_DATE
    assert window.holdout_snapshot == RUN_DATE - timedelta(days=14)


def test_same_data_and_seed_give_the_same_model(trained: TrainedModel, world_db: Path) -> None:
    with duckdb.connect(str(world_db), read_only=True) as con:
        again = train(con, RUN_DATE, TrainingConfig())

    assert again.model_version == trained.model_version
    assert again.data_fingerprint == trained.data_fingerprint
    assert again.metrics == trained.metrics
    np.testing.assert_array_equal(
        again.predict_proba(trained.holdout), trained.predict_proba(trained.holdout)
    )


def test_model_version_changes_with_the_config_but_not_the_clock(
    trained: TrainedModel, world_db: Path
) -> None:
    with duckdb.connect(str(world_db), read_only=True) as con:
        reseeded = train(con, RUN_DATE, TrainingConfig(seed=1))

    assert reseeded.data_fingerprint == trained.data_fingerprint
    assert reseeded.model_version != trained.model_version
    assert trained.model_version.startswith("churn-")


def test_events_after_the_run_date_do_not_change_the_training_data(
    trained: TrainedModel, con: duckdb.DuckDBPyConnection
) -> None:
    customers = [
        row[0] for row in con.execute("select customer_id from staging.stg_crm__customers").fetchall()
    ]
    append_events(con, future_events(customers, RUN_DATE))

    window = plan_snapshots(con, RUN_DATE, TrainingConfig())
    retrained = train(con, RUN_DATE, TrainingConfig())

    assert window == trained.training_window
    assert retrained.data_fingerprint == trained.data_fingerprint


def test_probabilities_are_calibrated_into_the_unit_interval(trained: TrainedModel) -> None:
    proba = trained.predict_proba(trained.holdout)

    assert proba.min() >= 0.0 and proba.max() <= 1.0
    # Calibration-in-the-large: the average prediction tracks the observed churn rate.
    rate = trained.holdout[LABEL].mean()
    assert abs(proba.mean() - rate) < 0.05
    # Better than always predicting the base rate, whose Brier score is rate * (1 - rate).
    assert trained.metrics["brier"] < rate * (1 - rate)


def test_model_is_reported_next_to_the_recency_baseline_and_beats_it(trained: TrainedModel) -> None:
    m = trained.metrics
    for key in ("roc_auc", "pr_auc", "brier", "top_decile_lift", "baseline_roc_auc", "baseline_pr_auc"):
        assert key in m and np.isfinite(m[key]), key

    assert m["roc_auc"] > m["baseline_roc_auc"]
    assert m["top_decile_lift"] > 1.0


def test_model_records_what_it_was_trained_on(trained: TrainedModel) -> None:
    assert len(trained.data_fingerprint) == 64
    assert {"scikit-learn", "skops", "numpy", "pandas", "duckdb", "python"} <= set(trained.library_versions)
    assert trained.config["seed"] == 0
    assert trained.metrics["n_train"] > 0 and trained.metrics["n_holdout"] == len(trained.holdout)


def test_too_short_a_history_fails_with_a_clear_message() -> None:
    con = duckdb.connect()
    load_world(
        con,
        make_world(
            [("a", "2024-04-01T00:00:00Z", "free")],
            [("a", "purchase", f"2024-04-{day:02d}T10:00:00Z", 1.0) for day in range(1, 30)],
        ),
    )

    with pytest.raises(TrainingError, match="history too short: events run 2024-04-01..2024-04-29"):
        train(con, RUN_DATE)


def test_a_world_where_nobody_churns_fails_with_a_clear_message() -> None:
    customers = [(f"c{i}", "2024-03-01T00:00:00Z", "free") for i in range(60)]
    events = [
        (f"c{i}", "add_to_cart", (WORLD_START + timedelta(days=d)).isoformat() + "T12:00:00Z", None)
        for i in range(60)
        for d in range(70)
    ]
    con = duckdb.connect()
    load_world(con, make_world(customers, events))

    with pytest.raises(TrainingError, match="single class"):
        train(con, RUN_DATE, TrainingConfig(min_training_rows=50))


def test_an_empty_warehouse_fails_with_a_clear_message() -> None:
    con = duckdb.connect()
    load_world(con, make_world([], []))

    with pytest.raises(TrainingError, match="no customer events"):
        train(con, RUN_DATE)
