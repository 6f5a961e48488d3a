"""A folder of model versions, a pointer to the current one, and the rule for moving it.

Layout::

    <dir>/CURRENT                        the promoted model_version (one line)
    <dir>/<model_version>/model.skops    the fitted estimator (skops.io, not pickle)
    <dir>/<model_version>/model_card.json
    <dir>/promotions.jsonl               one line per promotion decision, for audit

Why skops with an explicit allow-list: a model folder is a file anyone with
write access to the home directory can replace, and unpickling runs arbitrary
code. skops only rebuilds the types we name in `TRUSTED_TYPES`; anything else
in the file is refused with `UntrustedModelError`.

Every candidate is saved (so a rejected model can be inspected), but only a
candidate that beats the recency baseline and the current model on the same
holdout rows moves the `CURRENT` pointer. Writes go to a temporary name and are
renamed into place, so a crash never leaves a half-written model or pointer.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import warnings
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import skops.io as sio
from sklearn.metrics import roc_auc_score

from reengage.learning.churn import TrainedModel, TrainingWindow, library_versions
from reengage.learning.features import LABEL

MODEL_FILE = "model.skops"
CARD_FILE = "model_card.json"
POINTER_FILE = "CURRENT"
LOG_FILE = "promotions.jsonl"

# Every non-primitive type a `reengage.learning.churn.build_pipeline` model is made of (sigmoid or isotonic).
# Loading accepts these plus skops' own defaults (primitives and scikit-learn classes it rebuilds
# without running code); any other type is refused. A new pipeline step means a new entry here.
TRUSTED_TYPES: tuple[str, ...] = (
    "numpy.log1p",
    "numpy.random._generator.Generator",
    "sklearn._loss._loss.CyHalfBinomialLoss",
    "sklearn._loss.link.Interval",
    "sklearn._loss.link.LogitLink",
    "sklearn._loss.loss.HalfBinomialLoss",
    "sklearn.calibration.CalibratedClassifierCV",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.compose._column_transformer.ColumnTransformer",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.isotonic.IsotonicRegression",
    "sklearn.pipeline.Pipeline",
    "sklearn.preprocessing._data.StandardScaler",
    "sklearn.preprocessing._encoders.OneHotEncoder",
    "sklearn.preprocessing._function_transformer.FunctionTransformer",
    "sklearn.preprocessing._label.LabelEncoder",
)


class UntrustedModelError(RuntimeError):
    """A model file contains types outside `TRUSTED_TYPES`; it is not loaded."""


@dataclass(frozen=True)
class PromotionDecision:
    """Whether a candidate became current, and the sentence that explains why."""

    promoted: bool
    reason: str
    candidate_version: str
    current_version: str | None  # the version that is current after the decision


def save(model: TrainedModel, directory: Path | str) -> Path:
    """Write `<dir>/<model_version>/` atomically; a version already saved is left as it is."""
    return save_version(directory, model.model_version, model.pipeline, model_card(model))


def save_version(directory: Path | str, model_version: str, estimator: Any, card: dict[str, Any]) -> Path:
    """Write `<dir>/<model_version>/` (estimator by skops, card as JSON) atomically; keep an existing one.

    A version is a hash of the data and config, so an existing folder already
    holds this model; keeping it means a rerun never removes a file a scorer is reading.
    """
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    target = root / model_version
    if (target / MODEL_FILE).exists() and (target / CARD_FILE).exists():
        return target
    staging = Path(tempfile.mkdtemp(prefix=f".{model_version}.", dir=root))
    try:
        sio.dump(estimator, staging / MODEL_FILE, compression=zipfile.ZIP_DEFLATED)
        (staging / CARD_FILE).write_text(json.dumps(card, indent=2, sort_keys=True) + "\n")
        if target.exists():  # an incomplete folder from before atomic saves, or a hand edit
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return target


def model_card(model: TrainedModel) -> dict[str, Any]:
    """What a reviewer needs to judge a model without loading it."""
    return {
        "model_version": model.model_version,
        "features": list(model.features),
        "training_window": model.training_window.to_dict(),
        "data_fingerprint": model.data_fingerprint,
        "metrics": model.metrics,
        "library_versions": model.library_versions,
        "config": model.config,
        "features_contract": dict(sorted(model.features_contract.items())),
        "trusted_types": list(TRUSTED_TYPES),
    }


def load(directory: Path | str, model_version: str) -> TrainedModel:
    """Rebuild a saved version, refusing any type not in `TRUSTED_TYPES`."""
    estimator, card = load_version(directory, model_version, TRUSTED_TYPES)
    return TrainedModel(
        pipeline=estimator,
        model_version=card["model_version"],
        features=tuple(card["features"]),
        training_window=TrainingWindow.from_dict(card["training_window"]),
        data_fingerprint=card["data_fingerprint"],
        metrics=card["metrics"],
        library_versions=card["library_versions"],
        config=card["config"],
        features_contract=card.get("features_contract", {}),  # absent on cards saved before contracts
    )


def load_version(
    directory: Path | str, model_version: str, trusted_types: tuple[str, ...]
) -> tuple[Any, dict[str, Any]]:
    """(estimator, card) of a saved version; a file with a type outside `trusted_types` is refused."""
    folder = Path(directory) / model_version
    if not (folder / MODEL_FILE).exists():
        raise FileNotFoundError(f"no saved model {model_version!r} in {Path(directory)}")
    untrusted = sorted(set(sio.get_untrusted_types(file=folder / MODEL_FILE)) - set(trusted_types))
    if untrusted:
        raise UntrustedModelError(f"{folder / MODEL_FILE} contains types outside the allow-list: {untrusted}")
    estimator = sio.load(folder / MODEL_FILE, trusted=list(trusted_types))
    card = json.loads((folder / CARD_FILE).read_text())
    saved_with = card["library_versions"].get("scikit-learn")
    if saved_with != library_versions()["scikit-learn"]:
        # skops rebuilds across versions, but tree internals can change; retraining is the safe fix.
        warnings.warn(
            f"{model_version} was saved with scikit-learn {saved_with}, running "
            f"{library_versions()['scikit-learn']}; retrain if scores look off",
            stacklevel=3,
        )
    return estimator, card


def current_version(directory: Path | str) -> str | None:
    """The promoted model_version, or None before the first promotion."""
    pointer = Path(directory) / POINTER_FILE
    if not pointer.exists():
        return None
    return pointer.read_text().strip() or None


def current_card(directory: Path | str) -> dict[str, Any] | None:
    """The promoted model's card (no estimator loaded), or None before the first promotion."""
    current = current_version(directory)
    return json.loads((Path(directory) / current / CARD_FILE).read_text()) if current else None


def trained_under(directory: Path | str, features_contract: dict[str, str]) -> list[str]:
    """Saved versions (promoted or not) whose card records exactly this features contract."""
    found = []
    for card_path in sorted(Path(directory).glob(f"*/{CARD_FILE}")):
        card = json.loads(card_path.read_text())
        if card.get("features_contract") == features_contract:
            found.append(card["model_version"])
    return found


def load_current(directory: Path | str) -> TrainedModel | None:
    """The promoted model, or None if nothing has been promoted yet."""
    current = current_version(directory)
    return load(directory, current) if current else None


def set_current(directory: Path | str, model_version: str) -> None:
    """Point `CURRENT` at a saved version (atomic rename; also the manual rollback tool)."""
    root = Path(directory)
    if not (root / model_version / MODEL_FILE).exists():
        raise FileNotFoundError(f"cannot promote {model_version!r}: it is not saved in {root}")
    tmp = root / f".{POINTER_FILE}.tmp"
    tmp.write_text(model_version + "\n")
    os.replace(tmp, root / POINTER_FILE)


def decide(candidate: TrainedModel, current: TrainedModel | None) -> tuple[bool, str]:
    """The promotion rule, free of I/O so it can be read and tested on its own.

    1. The candidate must beat the recency baseline on its holdout ROC-AUC.
    2. A candidate judged on an older holdout than the current model's
       (a backfill) never replaces it: that would roll the model back in time.
    3. It must match or beat the current model's ROC-AUC on the candidate's own
       holdout rows (the same rows for both). A tie goes to the candidate because
       it learned from fresher data. Without the holdout rows (a reloaded
       candidate), the recorded holdout metrics are compared instead.
    """
    auc = float(candidate.metrics["roc_auc"])
    baseline = float(candidate.metrics["baseline_roc_auc"])
    if not auc > baseline:
        return False, (
            f"holdout ROC-AUC {auc:.4f} does not beat the recency baseline ({baseline:.4f}); "
            "keeping the current model"
        )
    if current is None:
        return True, f"first model: holdout ROC-AUC {auc:.4f} beats the recency baseline ({baseline:.4f})"
    if current.model_version == candidate.model_version:
        return True, f"{candidate.model_version} is already current (same data and config)"
    candidate_holdout = candidate.training_window.holdout_snapshot
    current_holdout = current.training_window.holdout_snapshot
    if candidate_holdout < current_holdout:
        return False, (
            f"candidate holdout {candidate_holdout} is older than the current model's "
            f"({current_holdout}); a backfill does not replace a newer model"
        )
    if candidate.holdout is not None and len(candidate.holdout):
        y = candidate.holdout[LABEL].to_numpy()
        current_auc = float(roc_auc_score(y, current.predict_proba(candidate.holdout)))
        where = f"on the same holdout ({candidate_holdout})"
    else:
        current_auc = float(current.metrics["roc_auc"])
        where = "by recorded holdout metrics"
    if np.isnan(current_auc) or auc >= current_auc:
        return True, (
            f"holdout ROC-AUC {auc:.4f} beats the recency baseline ({baseline:.4f}) and matches or beats "
            f"current {current.model_version} ({current_auc:.4f}) {where}"
        )
    return False, (
        f"holdout ROC-AUC {auc:.4f} is below current {current.model_version} ({current_auc:.4f}) {where}; "
        "keeping the current model"
    )


def promote_if_better(directory: Path | str, candidate: TrainedModel) -> PromotionDecision:
    """Save the candidate, move `CURRENT` to it only if `decide` says so, and log the decision."""
    root = Path(directory)
    save(candidate, root)
    current = load_current(root)
    promoted, reason = decide(candidate, current)
    return record_decision(
        root, candidate.model_version, current.model_version if current else None, promoted, reason
    )


def record_decision(
    directory: Path | str, candidate_version: str, current: str | None, promoted: bool, reason: str
) -> PromotionDecision:
    """Move `CURRENT` to a saved candidate if promoted, and append the decision to `promotions.jsonl`."""
    root = Path(directory)
    if promoted:
        set_current(root, candidate_version)
    decision = PromotionDecision(
        promoted=promoted,
        reason=reason,
        candidate_version=candidate_version,
        current_version=candidate_version if promoted else current,
    )
    with (root / LOG_FILE).open("a") as log:
        entry = {"decided_at": datetime.now(UTC).isoformat(), **decision.__dict__}
        log.write(json.dumps(entry, sort_keys=True) + "\n")
    return decision
