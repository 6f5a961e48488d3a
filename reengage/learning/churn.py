"""Train and evaluate the churn-risk model on weekly point-in-time snapshots.

Why it is shaped this way:

* Snapshots are weekly and end at the last day whose 14-day label window is
  fully observed (run date minus the horizon, or earlier if the events stop
  earlier), so no example is labelled "churned" just because its future has
  not been loaded yet.
* The holdout is the latest labelled snapshot and the model never sees it:
  a random split would let a customer's next week leak into training and
  flatter every metric.
* The artifact that is evaluated is the artifact that is saved. We do not refit
  on train + holdout afterwards, so the model card's metrics describe exactly
  the model that scores customers (at the cost of one week of freshness).
* Every number is compared against the recency rule (days since last active
  action as the score); a model that cannot beat it is not worth running.
* Everything is seeded and the frame is fingerprinted, so the same warehouse
  and config give the same metrics and the same `model_version`.
"""

from __future__ import annotations

import hashlib
import json
import platform
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Literal

import duckdb
import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from reengage.learning.features import (
    CATEGORICAL_FEATURES,
    EVENTS_TABLE,
    FEATURES,
    LABEL,
    NUMERIC_FEATURES,
    cutoff,
    label_examples,
)

# Bump when the pipeline's structure changes: it is part of every model_version.
MODEL_SPEC = "churn-hgb-calibrated-v1"
BASELINE = "days_since_last_active"
_LIBRARIES = ("scikit-learn", "skops", "numpy", "pandas", "duckdb")
_NOT_VERSIONED = frozenset({"n_threads"})


class TrainingError(RuntimeError):
    """The warehouse cannot support a trustworthy model today (too little history, one class, ...)."""


@dataclass(frozen=True)
class TrainingConfig:
    """Knobs for one training run; all but `n_threads` feed the model_version."""

    horizon_days: int = 14
    snapshot_every_days: int = 7
    max_snapshots: int = 12
    # Skip snapshots this close to the first event: their 28-35-day windows would be truncated.
    warmup_days: int = 28
    seed: int = 0
    # "auto": isotonic once there is enough data for it not to overfit, sigmoid before.
    calibration: Literal["auto", "isotonic", "sigmoid"] = "auto"
    isotonic_min_rows: int = 10_000
    min_training_rows: int = 200
    min_class_count: int = 20
    # Training rows beyond this are sampled (seeded): 3 calibration folds of HGB on more rows
    # cost far more time than they add AUC.
    max_training_rows: int = 500_000
    # OpenMP threads for fitting (None = all cores). Not part of model_version: it changes speed, not results.
    n_threads: int | None = None

    def __post_init__(self) -> None:
        if self.horizon_days < 1 or self.snapshot_every_days < 1 or self.max_snapshots < 2:
            raise ValueError(f"invalid training config: {self}")


@dataclass(frozen=True)
class TrainingWindow:
    """Which history a model learned from and was judged on."""

    history_start: date
    label_complete_through: date
    train_snapshots: tuple[date, ...]
    holdout_snapshot: date
    horizon_days: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "history_start": self.history_start.isoformat(),
            "label_complete_through": self.label_complete_through.isoformat(),
            "train_snapshots": [d.isoformat() for d in self.train_snapshots],
            "holdout_snapshot": self.holdout_snapshot.isoformat(),
            "horizon_days": self.horizon_days,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainingWindow:
        return cls(
            history_start=date.fromisoformat(data["history_start"]),
            label_complete_through=date.fromisoformat(data["label_complete_through"]),
            train_snapshots=tuple(date.fromisoformat(d) for d in data["train_snapshots"]),
            holdout_snapshot=date.fromisoformat(data["holdout_snapshot"]),
            horizon_days=int(data["horizon_days"]),
        )


@dataclass
class TrainedModel:
    """A fitted, calibrated churn model plus everything needed to trust and reproduce it.

    `pipeline` is the `CalibratedClassifierCV` wrapping the feature `Pipeline`;
    `holdout` (the latest labelled snapshot) is kept in memory so the registry
    can compare the current model on the same rows, and is never persisted.
    `features_contract` names what the features meant when the model learned them
    (named digests, see reengage/defs/scoring/contracts.py; empty if not given).
    """

    pipeline: CalibratedClassifierCV
    model_version: str
    features: tuple[str, ...]
    training_window: TrainingWindow
    data_fingerprint: str
    metrics: dict[str, float | int | str]
    library_versions: dict[str, str]
    config: dict[str, Any]
    holdout: pd.DataFrame | None = field(default=None, repr=False, compare=False)
    features_contract: dict[str, str] = field(default_factory=dict)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Calibrated P(churn) for each row of a `snapshot_features` frame."""
        missing = [c for c in self.features if c not in frame.columns]
        if missing:
            raise KeyError(f"model {self.model_version} needs columns {missing}")
        return self.pipeline.predict_proba(frame[list(self.features)])[:, 1]


def build_pipeline(
    config: TrainingConfig, calibration: Literal["isotonic", "sigmoid"]
) -> CalibratedClassifierCV:
    """The unfitted estimator: log1p + scaling and one-hot plan into seeded gradient boosting, calibrated.

    Trees do not need scaling; it is here so linear challengers can reuse the
    same preprocessing and so heavy-tailed counts stay readable in diagnostics.
    """
    preprocess = ColumnTransformer(
        [
            (
                "numeric",
                Pipeline(
                    [
                        ("log1p", FunctionTransformer(np.log1p, feature_names_out="one-to-one")),
                        ("scale", StandardScaler()),
                    ]
                ),
                list(NUMERIC_FEATURES),
            ),
            (
                "plan",
                OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                list(CATEGORICAL_FEATURES),
            ),
        ]
    )
    classifier = HistGradientBoostingClassifier(
        learning_rate=0.05,
        max_iter=200,
        max_leaf_nodes=15,
        min_samples_leaf=20,
        l2_regularization=1.0,
        early_stopping="auto",
        random_state=config.seed,
    )
    pipeline = Pipeline([("preprocess", preprocess), ("classifier", classifier)])
    # cv=3 uses unshuffled stratified folds, so no extra randomness enters here.
    return CalibratedClassifierCV(estimator=pipeline, method=calibration, cv=3)


def plan_snapshots(con: duckdb.DuckDBPyConnection, run_date: date, config: TrainingConfig) -> TrainingWindow:
    """Weekly snapshot dates whose labels are complete by `run_date`; the last one is the holdout."""
    # fetchall, not fetchone: DuckDB 2 keeps a half-read result open and blocks the next query.
    rows = con.execute(
        f"""
        select
            min(cast(timezone('UTC', event_ts) as date)),
            max(cast(timezone('UTC', event_ts) as date))
        from {EVENTS_TABLE}
        where customer_id is not null and event_ts < $cutoff
        """,
        {"cutoff": cutoff(run_date)},
    ).fetchall()
    if not rows or rows[0][0] is None:
        raise TrainingError(f"no customer events on or before {run_date}: nothing to learn from")
    history_start, last_event_day = rows[0]
    label_complete_through = min(run_date, last_event_day)
    last_snapshot = label_complete_through - timedelta(days=config.horizon_days)
    earliest = history_start + timedelta(days=config.warmup_days)
    snapshots = [
        last_snapshot - timedelta(days=k * config.snapshot_every_days)
        for k in range(config.max_snapshots)
        if last_snapshot - timedelta(days=k * config.snapshot_every_days) >= earliest
    ]
    if len(snapshots) < 2:
        needed = config.warmup_days + config.horizon_days + config.snapshot_every_days
        raise TrainingError(
            f"history too short: events run {history_start}..{last_event_day}, but training needs "
            f"at least {needed} days (warm-up {config.warmup_days} + one more week "
            f"+ label horizon {config.horizon_days}) to form a training snapshot and a holdout"
        )
    snapshots.sort()
    return TrainingWindow(
        history_start=history_start,
        label_complete_through=label_complete_through,
        train_snapshots=tuple(snapshots[:-1]),
        holdout_snapshot=snapshots[-1],
        horizon_days=config.horizon_days,
    )


def top_decile_lift(y: np.ndarray, score: np.ndarray) -> float:
    """Churn rate among the top 10% by score over the overall churn rate (ties broken by row order)."""
    y = np.asarray(y)
    n_top = max(1, int(np.ceil(len(y) * 0.1)))
    order = np.argsort(-np.asarray(score, dtype=float), kind="stable")
    base = y.mean()
    return float(y[order[:n_top]].mean() / base) if base > 0 else float("nan")


def evaluate(y: np.ndarray, proba: np.ndarray, baseline_score: np.ndarray) -> dict[str, float]:
    """Holdout metrics for the model and, side by side, for the recency baseline.

    The baseline has no Brier score: days-since-active is a ranking, not a probability.
    """
    return {
        "roc_auc": float(roc_auc_score(y, proba)),
        "pr_auc": float(average_precision_score(y, proba)),
        "brier": float(brier_score_loss(y, proba)),
        "top_decile_lift": top_decile_lift(y, proba),
        "mean_predicted": float(np.mean(proba)),
        "holdout_churn_rate": float(np.mean(y)),
        "baseline_roc_auc": float(roc_auc_score(y, baseline_score)),
        "baseline_pr_auc": float(average_precision_score(y, baseline_score)),
        "baseline_top_decile_lift": top_decile_lift(y, baseline_score),
    }


def fingerprint(frame: pd.DataFrame) -> str:
    """sha256 over column names, dtypes and every row's values, in order."""
    digest = hashlib.sha256()
    digest.update(json.dumps([list(map(str, frame.columns)), [str(t) for t in frame.dtypes]]).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def derive_model_version(
    data_fingerprint: str, config: TrainingConfig, features_contract: Mapping[str, str] | None = None
) -> str:
    """Deterministic id: same data, config, pipeline spec and features contract -> same version (no clock).

    The contract is part of it so that a model retrained on unchanged rows after a change of
    meaning (a new card) never collides with the folder of the model it replaces.
    """
    settings = {k: v for k, v in asdict(config).items() if k not in _NOT_VERSIONED}
    content = {"data": data_fingerprint, "config": settings, "spec": MODEL_SPEC}
    if features_contract:
        content["features_contract"] = dict(sorted(features_contract.items()))
    payload = json.dumps(content, sort_keys=True)
    return "churn-" + hashlib.sha256(payload.encode()).hexdigest()[:16]


def library_versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in _LIBRARIES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "unknown"
    return found


def _check_trainable(name: str, frame: pd.DataFrame, config: TrainingConfig, min_rows: int) -> None:
    counts = frame[LABEL].value_counts().to_dict()
    churned, retained = int(counts.get(1, 0)), int(counts.get(0, 0))
    if len(frame) < min_rows:
        raise TrainingError(f"{name} has {len(frame)} rows; at least {min_rows} are needed")
    if churned == 0 or retained == 0:
        only = "churned" if retained == 0 else "retained"
        raise TrainingError(f"{name} labels are a single class (every customer {only}); nothing to separate")
    if min(churned, retained) < config.min_class_count:
        raise TrainingError(
            f"{name} has {churned} churned and {retained} retained rows; each class needs at least "
            f"{config.min_class_count} for a calibrated model"
        )


def train(
    con: duckdb.DuckDBPyConnection,
    run_date: date,
    config: TrainingConfig | None = None,
    features_contract: Mapping[str, str] | None = None,
) -> TrainedModel:
    """Fit on the training snapshots and judge on the holdout one; `features_contract` goes on the card.

    Raises `TrainingError` (with a sentence a person can act on) when the
    warehouse cannot support a trustworthy model: too little history, too few
    rows, or a single label class.
    """
    config = config or TrainingConfig()
    window = plan_snapshots(con, run_date, config)
    examples = label_examples(con, [*window.train_snapshots, window.holdout_snapshot], config.horizon_days)
    examples = examples.sort_values(["snapshot_date", "customer_id"], kind="stable", ignore_index=True)

    is_holdout = examples["snapshot_date"] == window.holdout_snapshot
    train_frame = examples[~is_holdout].reset_index(drop=True)
    holdout = examples[is_holdout].reset_index(drop=True)
    if len(train_frame) > config.max_training_rows:
        rng = np.random.default_rng(config.seed)
        keep = np.sort(rng.choice(len(train_frame), size=config.max_training_rows, replace=False))
        train_frame = train_frame.iloc[keep].reset_index(drop=True)
    _check_trainable("training data", train_frame, config, config.min_training_rows)
    _check_trainable(f"holdout snapshot {window.holdout_snapshot}", holdout, config, min_rows=50)

    calibration = config.calibration
    if calibration == "auto":
        calibration = "isotonic" if len(train_frame) >= config.isotonic_min_rows else "sigmoid"
    estimator = build_pipeline(config, calibration)
    with threadpool_limits(limits=config.n_threads):
        estimator.fit(train_frame[list(FEATURES)], train_frame[LABEL].to_numpy())
        proba = estimator.predict_proba(holdout[list(FEATURES)])[:, 1]
    metrics: dict[str, float | int | str] = {
        **evaluate(holdout[LABEL].to_numpy(), proba, holdout[BASELINE].to_numpy(dtype=float)),
        "n_train": len(train_frame),
        "n_holdout": len(holdout),
        "calibration": calibration,
    }
    data_fingerprint = fingerprint(pd.concat([train_frame, holdout], ignore_index=True))
    return TrainedModel(
        pipeline=estimator,
        model_version=derive_model_version(data_fingerprint, config, features_contract),
        features=FEATURES,
        training_window=window,
        data_fingerprint=data_fingerprint,
        metrics=metrics,
        library_versions=library_versions(),
        config=asdict(config),
        holdout=holdout,
        features_contract=dict(features_contract or {}),
    )
