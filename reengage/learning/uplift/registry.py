"""Uplift model versions, one folder per campaign, and the rule for making one current.

Layout::

    <dir>/<campaign_id>/CURRENT                      the promoted version (one line)
    <dir>/<campaign_id>/<version>/model.skops        the effect model (skops.io, not pickle)
    <dir>/<campaign_id>/<version>/model_card.json
    <dir>/<campaign_id>/promotions.jsonl             one line per promotion decision, for audit

Saving, loading with an allow-list, the `CURRENT` pointer and the decision log are the churn
registry's (`reengage.learning.registry`), so both kinds of model are written atomically and refused the
same way when a file holds a type nobody trusted. Only the effect model is saved: it is all a
scorer needs. The cross-fitted outcome models served the evaluation and are not kept.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

from reengage.learning import registry
from reengage.learning.registry import PromotionDecision
from reengage.learning.uplift.evaluation import UpliftEvaluation, promotion_verdict, qini_of
from reengage.learning.uplift.learner import LEARNER_SPEC, UpliftLearner
from reengage.learning.uplift.training import TrainedUplift

# Every non-primitive type an effect model (`reengage.learning.uplift.learner.build_effect_model`) is made
# of. Loading accepts these and nothing else; a new pipeline step means a new entry here.
TRUSTED_TYPES: tuple[str, ...] = (
    "reengage.learning.clusters.transform",
    "sklearn._loss._loss.CyHalfSquaredError",
    "sklearn._loss.link.IdentityLink",
    "sklearn._loss.link.Interval",
    "sklearn._loss.loss.HalfSquaredError",
    "sklearn.compose._column_transformer.ColumnTransformer",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingRegressor",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.pipeline.Pipeline",
    "sklearn.preprocessing._data.StandardScaler",
    "sklearn.preprocessing._encoders.OneHotEncoder",
    "sklearn.preprocessing._function_transformer.FunctionTransformer",
)
_CAMPAIGN_FOLDER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}")


def campaign_dir(directory: Path | str, campaign_id: str) -> Path:
    """`<dir>/<campaign_id>`; an id that is not a plain folder name (a path, '..') is refused."""
    if not _CAMPAIGN_FOLDER.fullmatch(campaign_id):
        raise ValueError(
            f"campaign id {campaign_id!r} is not usable as a folder name (letters, digits, _ and -)"
        )
    return Path(directory) / campaign_id


def model_card(model: TrainedUplift) -> dict[str, Any]:
    """What a reviewer needs to judge an uplift model without loading it."""
    beats_random, reason = promotion_verdict(model.evaluation)
    return {
        "model_version": model.model_version,
        "campaign_id": model.campaign_id,
        "target": model.target,
        "learner": {"choice": model.learner_choice, "spec": LEARNER_SPEC},
        "features": list(model.features),
        "categorical_features": list(model.learner.categorical_features),
        "training_days": [d.isoformat() for d in model.training_days],
        "evaluation_days": [d.isoformat() for d in model.evaluation_days],
        "row_counts": model.row_counts,
        "evaluation": model.evaluation.to_dict(),
        "beats_random": {"verdict": beats_random, "reason": reason},
        "data_fingerprint": model.data_fingerprint,
        "config": model.config,
        "library_versions": model.library_versions,
        "trusted_types": list(TRUSTED_TYPES),
    }


def save(model: TrainedUplift, directory: Path | str) -> Path:
    """Write `<dir>/<campaign_id>/<version>/` atomically; a version already saved is left as it is."""
    root = campaign_dir(directory, model.campaign_id)
    return registry.save_version(root, model.model_version, model.learner.effect_model, model_card(model))


def load(directory: Path | str, campaign_id: str, model_version: str) -> TrainedUplift:
    """Rebuild a saved version (without its outcome models), refusing any type not in `TRUSTED_TYPES`."""
    effect_model, card = registry.load_version(
        campaign_dir(directory, campaign_id), model_version, TRUSTED_TYPES
    )
    return TrainedUplift(
        learner=UpliftLearner(
            effect_model=effect_model,
            features=tuple(card["features"]),
            categorical_features=tuple(card["categorical_features"]),
        ),
        model_version=card["model_version"],
        campaign_id=card["campaign_id"],
        target=card["target"],
        training_days=tuple(date.fromisoformat(d) for d in card["training_days"]),
        evaluation_days=tuple(date.fromisoformat(d) for d in card["evaluation_days"]),
        row_counts=card["row_counts"],
        evaluation=UpliftEvaluation.from_dict(card["evaluation"]),
        data_fingerprint=card["data_fingerprint"],
        config=card["config"],
        library_versions=card["library_versions"],
        learner_choice=card["learner"]["choice"],
    )


def current_version(directory: Path | str, campaign_id: str) -> str | None:
    """The campaign's promoted version, or None before its first promotion."""
    return registry.current_version(campaign_dir(directory, campaign_id))


def load_current(directory: Path | str, campaign_id: str) -> TrainedUplift | None:
    current = current_version(directory, campaign_id)
    return load(directory, campaign_id, current) if current else None


def decide(candidate: TrainedUplift, current: TrainedUplift | None) -> tuple[bool, str]:
    """The promotion rule, free of I/O.

    1. The candidate's Qini coefficient interval must lie above 0: it beats random targeting.
    2. A candidate judged on older days than the current model's (a backfill) never replaces it.
    3. It must match or beat the current model's Qini coefficient on the candidate's own
       evaluation rows (the same rows and effect scores for both; a tie goes to the candidate,
       which learned from fresher data). Without those rows in memory, or when the current
       model needs columns they lack, the recorded coefficients are compared instead.
    """
    beats_random, reason = promotion_verdict(candidate.evaluation)
    if not beats_random:
        return False, f"{reason}; keeping the current model"
    if current is None:
        return True, f"first model for {candidate.campaign_id}: {reason}"
    if current.model_version == candidate.model_version:
        return True, f"{candidate.model_version} is already current (same data and config)"
    if candidate.evaluation_days and current.evaluation_days:
        if candidate.evaluation_days[-1] < current.evaluation_days[-1]:
            return False, (
                f"candidate evaluated on days up to {candidate.evaluation_days[-1]}, older than the current "
                f"model's ({current.evaluation_days[-1]}); a backfill does not replace a newer model"
            )
    qini = candidate.evaluation.qini.estimate
    rows, scores = candidate.evaluation_rows, candidate.evaluation_scores
    if rows is not None and scores is not None and set(current.features) <= set(rows.columns):
        current_qini = qini_of(current.predict_uplift(rows), scores)
        where = "on the same evaluation rows"
    else:
        current_qini = current.evaluation.qini.estimate
        where = "by recorded figures"
    if qini >= current_qini:
        return (
            True,
            f"{reason}, and matches or beats current {current.model_version} ({current_qini:.5f}) {where}",
        )
    return False, (
        f"Qini coefficient {qini:.5f} is below current {current.model_version} ({current_qini:.5f}) {where}; "
        "keeping the current model"
    )


def promote_if_better(directory: Path | str, candidate: TrainedUplift) -> PromotionDecision:
    """Save the candidate, make it current only if `decide` says so, and log the decision."""
    root = campaign_dir(directory, candidate.campaign_id)
    save(candidate, directory)
    current = load_current(directory, candidate.campaign_id)
    promoted, reason = decide(candidate, current)
    return registry.record_decision(
        root, candidate.model_version, current.model_version if current else None, promoted, reason
    )
