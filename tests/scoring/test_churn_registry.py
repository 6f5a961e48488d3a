"""Model registry: skops round trip, refusal of untrusted files, and the promotion rule."""

from __future__ import annotations

import dataclasses
import json
import os
from datetime import timedelta
from pathlib import Path

import duckdb
import numpy as np
import pytest
import skops.io as sio
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from reengage.learning import registry
from reengage.learning.churn import BASELINE, TrainedModel, TrainingConfig, build_pipeline, evaluate
from reengage.learning.features import FEATURES, LABEL, label_examples


def shuffled_label_model(trained: TrainedModel, world_db: Path) -> TrainedModel:
    """A real pipeline trained on permuted labels: same types, no signal (AUC near 0.5)."""
    with duckdb.connect(str(world_db), read_only=True) as con:
        frame = label_examples(con, trained.training_window.train_snapshots, 14)
    y = np.random.default_rng(0).permutation(frame[LABEL].to_numpy())
    estimator = build_pipeline(TrainingConfig(), "sigmoid").fit(frame[list(FEATURES)], y)
    holdout = trained.holdout
    proba = estimator.predict_proba(holdout[list(FEATURES)])[:, 1]
    metrics = {
        **trained.metrics,
        **evaluate(holdout[LABEL].to_numpy(), proba, holdout[BASELINE].to_numpy(dtype=float)),
    }
    return dataclasses.replace(trained, pipeline=estimator, model_version="churn-shuffled", metrics=metrics)


def with_auc(model: TrainedModel, version: str, roc_auc: float, baseline: float) -> TrainedModel:
    return dataclasses.replace(
        model,
        model_version=version,
        metrics={**model.metrics, "roc_auc": roc_auc, "baseline_roc_auc": baseline},
    )


def test_saved_model_loads_back_with_identical_predictions(trained: TrainedModel, tmp_path: Path) -> None:
    folder = registry.save(trained, tmp_path)

    loaded = registry.load(tmp_path, trained.model_version)

    assert folder == tmp_path / trained.model_version
    np.testing.assert_array_equal(
        loaded.predict_proba(trained.holdout), trained.predict_proba(trained.holdout)
    )
    assert loaded.metrics == trained.metrics
    assert loaded.training_window == trained.training_window
    assert loaded.data_fingerprint == trained.data_fingerprint
    assert loaded.features == trained.features


def test_model_card_describes_the_model_without_loading_it(trained: TrainedModel, tmp_path: Path) -> None:
    registry.save(trained, tmp_path)

    card = json.loads((tmp_path / trained.model_version / "model_card.json").read_text())

    assert card["model_version"] == trained.model_version
    assert card["features"] == list(FEATURES)
    assert card["data_fingerprint"] == trained.data_fingerprint
    assert card["training_window"]["holdout_snapshot"] == trained.training_window.holdout_snapshot.isoformat()
    assert card["metrics"]["baseline_roc_auc"] == trained.metrics["baseline_roc_auc"]
    assert "scikit-learn" in card["library_versions"]


def test_a_model_file_with_an_untrusted_type_is_refused(trained: TrainedModel, tmp_path: Path) -> None:
    # Guards against loading a tampered model file that would run code (here: os.system) on load or predict.
    registry.save(trained, tmp_path)
    evil = Pipeline([("run", FunctionTransformer(os.system))])
    sio.dump(evil, tmp_path / trained.model_version / "model.skops")

    with pytest.raises(registry.UntrustedModelError, match="system"):
        registry.load(tmp_path, trained.model_version)


def test_every_saved_type_is_on_the_allow_list(trained: TrainedModel, tmp_path: Path) -> None:
    registry.save(trained, tmp_path)

    untrusted = sio.get_untrusted_types(file=tmp_path / trained.model_version / "model.skops")

    assert set(untrusted) <= set(registry.TRUSTED_TYPES)


def test_first_model_that_beats_the_baseline_becomes_current(trained: TrainedModel, tmp_path: Path) -> None:
    assert registry.current_version(tmp_path) is None

    decision = registry.promote_if_better(tmp_path, trained)

    assert decision.promoted, decision.reason
    assert registry.current_version(tmp_path) == trained.model_version
    assert registry.load_current(tmp_path).model_version == trained.model_version


def test_model_that_loses_to_the_recency_baseline_is_saved_but_not_promoted(
    trained: TrainedModel, world_db: Path, tmp_path: Path
) -> None:
    registry.promote_if_better(tmp_path, trained)
    worse = shuffled_label_model(trained, world_db)
    assert worse.metrics["roc_auc"] < worse.metrics["baseline_roc_auc"]

    decision = registry.promote_if_better(tmp_path, worse)

    assert not decision.promoted
    assert "recency baseline" in decision.reason
    assert decision.current_version == trained.model_version
    assert registry.current_version(tmp_path) == trained.model_version
    assert (tmp_path / "churn-shuffled" / "model.skops").exists()  # kept for inspection
    log = [json.loads(line) for line in (tmp_path / "promotions.jsonl").read_text().splitlines()]
    assert [entry["promoted"] for entry in log] == [True, False]


def test_model_below_the_current_one_on_the_same_holdout_is_not_promoted(trained: TrainedModel) -> None:
    current_auc = trained.metrics["roc_auc"]
    candidate = with_auc(trained, "churn-candidate", roc_auc=current_auc - 0.01, baseline=current_auc - 0.05)

    promoted, reason = registry.decide(candidate, current=trained)

    assert not promoted
    assert f"below current {trained.model_version}" in reason and "same holdout" in reason


def test_tie_with_the_current_model_goes_to_the_fresher_candidate(trained: TrainedModel) -> None:
    candidate = with_auc(trained, "churn-candidate", roc_auc=trained.metrics["roc_auc"], baseline=0.5)

    promoted, _ = registry.decide(candidate, current=trained)

    assert promoted


def test_backfilled_model_never_replaces_a_newer_current_one(trained: TrainedModel) -> None:
    older_window = dataclasses.replace(
        trained.training_window,
        holdout_snapshot=trained.training_window.holdout_snapshot - timedelta(days=7),
    )
    candidate = dataclasses.replace(
        with_auc(trained, "churn-backfill", roc_auc=0.99, baseline=0.5), training_window=older_window
    )

    promoted, reason = registry.decide(candidate, current=trained)

    assert not promoted
    assert "backfill" in reason


def test_promotion_pointer_refuses_an_unsaved_version(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not saved"):
        registry.set_current(tmp_path, "churn-missing")
