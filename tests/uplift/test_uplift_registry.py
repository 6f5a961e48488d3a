"""Uplift model versions per campaign: skops round trip with trusted types only, the card, promotion."""

from __future__ import annotations

import dataclasses
import json
import os
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import skops.io as sio
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from reengage.learning.registry import UntrustedModelError
from reengage.learning.uplift import registry
from reengage.learning.uplift.evaluation import Interval
from reengage.learning.uplift.training import TrainedUplift


def _with_qini(model: TrainedUplift, version: str, estimate: float, low: float) -> TrainedUplift:
    qini = Interval(estimate=estimate, low=low, high=estimate + 0.01)
    return dataclasses.replace(
        model, model_version=version, evaluation=dataclasses.replace(model.evaluation, qini=qini)
    )


def test_a_saved_uplift_model_loads_back_with_identical_predictions(trained: TrainedUplift, tmp_path: Path):
    folder = registry.save(trained, tmp_path)

    loaded = registry.load(tmp_path, "winback", trained.model_version)

    assert folder == tmp_path / "winback" / trained.model_version
    np.testing.assert_array_equal(
        loaded.predict_uplift(trained.evaluation_rows), trained.predict_uplift(trained.evaluation_rows)
    )
    assert loaded.features == trained.features
    assert loaded.evaluation.qini == trained.evaluation.qini
    assert loaded.evaluation_days == trained.evaluation_days


def test_every_type_in_a_saved_uplift_model_is_on_the_allow_list(trained: TrainedUplift, tmp_path: Path):
    # Guards loading without trusting everything: a new pipeline step must be added to the list.
    registry.save(trained, tmp_path)

    untrusted = sio.get_untrusted_types(file=tmp_path / "winback" / trained.model_version / "model.skops")

    assert set(untrusted) <= set(registry.TRUSTED_TYPES)


def test_an_uplift_model_file_with_an_untrusted_type_is_refused(trained: TrainedUplift, tmp_path: Path):
    # Guards against a replaced model file that would run code (here os.system) when loaded or used.
    registry.save(trained, tmp_path)
    sio.dump(
        Pipeline([("run", FunctionTransformer(os.system))]),
        tmp_path / "winback" / trained.model_version / "model.skops",
    )

    with pytest.raises(UntrustedModelError, match="system"):
        registry.load(tmp_path, "winback", trained.model_version)


def test_the_model_card_says_what_was_learned_from_what_and_how_well_it_targets(
    trained: TrainedUplift, tmp_path: Path
):
    registry.save(trained, tmp_path)

    card = json.loads((tmp_path / "winback" / trained.model_version / "model_card.json").read_text())

    assert card["campaign_id"] == "winback" and card["target"] == "purchase within 7 days"
    assert card["training_days"][0] == "2026-03-01" and card["evaluation_days"][-1] == "2026-03-20"
    assert card["row_counts"]["evaluation"]["holdout"] == trained.row_counts["evaluation"]["holdout"]
    assert set(card["evaluation"]["qini"]) == {"estimate", "low", "high"}
    assert set(card["evaluation"]["auuc"]) == {"estimate", "low", "high"}
    assert len(card["evaluation"]["calibration_by_decile"]) >= 5
    assert "doubly robust" in card["learner"]["choice"]
    assert "scikit-learn" in card["library_versions"]
    assert card["beats_random"]["verdict"] is True


def test_the_first_model_that_beats_random_becomes_its_campaigns_current_model(
    trained: TrainedUplift, tmp_path: Path
):
    decision = registry.promote_if_better(tmp_path, trained)

    assert decision.promoted, decision.reason
    assert "first model for winback" in decision.reason
    assert registry.current_version(tmp_path, "winback") == trained.model_version
    assert registry.current_version(tmp_path, "cart_abandonment") is None
    assert (tmp_path / "winback" / "CURRENT").read_text().strip() == trained.model_version


def test_a_model_that_does_not_beat_random_is_saved_but_not_promoted(trained: TrainedUplift, tmp_path: Path):
    # Guards the rule in the registry: an interval reaching 0 never moves CURRENT, and the
    # decision is logged with its reason.
    registry.promote_if_better(tmp_path, trained)
    weak = _with_qini(trained, "uplift-weak", estimate=0.004, low=-0.001)

    decision = registry.promote_if_better(tmp_path, weak)

    assert not decision.promoted and "not above 0" in decision.reason
    assert registry.current_version(tmp_path, "winback") == trained.model_version
    assert (tmp_path / "winback" / "uplift-weak" / "model.skops").exists()  # kept for inspection
    log = [json.loads(line) for line in (tmp_path / "winback" / "promotions.jsonl").read_text().splitlines()]
    assert [entry["promoted"] for entry in log] == [True, False]


def test_a_candidate_below_the_current_model_on_the_same_rows_is_not_promoted(
    trained: TrainedUplift, tmp_path: Path
):
    # Guards against replacing a better model with one that merely beats random: the current
    # model is scored on the candidate's own evaluation rows.
    registry.promote_if_better(tmp_path, trained)
    worse = _with_qini(trained, "uplift-worse", estimate=trained.evaluation.qini.estimate / 2, low=1e-4)

    decision = registry.promote_if_better(tmp_path, worse)

    assert not decision.promoted
    assert "on the same evaluation rows" in decision.reason
    assert registry.current_version(tmp_path, "winback") == trained.model_version


def test_a_backfilled_candidate_does_not_replace_a_newer_model(trained: TrainedUplift, tmp_path: Path):
    registry.promote_if_better(tmp_path, trained)
    older_days = tuple(d - timedelta(days=7) for d in trained.evaluation_days)
    backfill = dataclasses.replace(
        _with_qini(trained, "uplift-backfill", estimate=1.0, low=0.5), evaluation_days=older_days
    )

    decision = registry.promote_if_better(tmp_path, backfill)

    assert not decision.promoted and "backfill" in decision.reason


def test_a_campaign_id_that_is_not_a_plain_folder_name_is_refused(trained: TrainedUplift, tmp_path: Path):
    # Guards the registry folder: a campaign id must not write outside it.
    with pytest.raises(ValueError, match="not usable as a folder name"):
        registry.save(dataclasses.replace(trained, campaign_id="../elsewhere"), tmp_path)
