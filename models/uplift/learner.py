"""Per-row uplift (the effect of sending on the target outcome) learned from randomized decisions.

The learner is a doubly robust learner (the "DR-learner") with cross-fitting:

1. An outcome model mu(x, t) (gradient boosting, the treatment flag as one more input) is fitted
   on all but one of `n_folds` stratified folds and predicts mu0 = mu(x, 0) and mu1 = mu(x, 1)
   on the fold it did not see.
2. Each row gets its doubly robust score psi (`models.uplift.doubly_robust.effect_scores`),
   computed with the row's *logged* propensity.
3. A shallow gradient-boosted regression of psi on x is the uplift model: E[psi | x] is the
   effect of sending to a user like x.

Why this learner and not a T- or X-learner, for the situation it is built for (arms of 90/10
or 80/20, a few thousand to a few hundred thousand rows, conversions at a few percent,
propensities known exactly because assignment is a hash):

* The propensity is known, so psi is an unbiased score of each row's effect however wrong the
  outcome model is; its errors only add variance. The final regression then learns the effect
  directly, at the rate of a regression on the true effect, instead of as the difference of
  two separately regularised fits.
* Propensities will vary by row: the targeting policy treats users by their predicted uplift,
  with an exploration share. psi weights every row by the probability it actually had, so the
  learner stays unbiased whatever drove that probability. A T- or X-learner fits one model per
  arm and is biased as soon as the probability depends on anything outside the features.
* A T-learner fits the 10% arm alone and subtracts two noisy fits; regularisation that suits
  the large arm does not suit the small one, and the difference shows effects that are not
  there. In the synthetic checks it ranked worst at every size.
* The pooled outcome model learns the baseline (which carries nearly all of the outcome's
  variance) from both arms at once; the small arm does not have to learn it alone.
* Cross-fitting keeps a row's psi free of a model that saw its own outcome, which would
  otherwise leak its noise into the final regression.
* The final stage is shallow (depth 2) because psi is very noisy (a holdout conversion at
  e = 0.9 scores -10): deeper trees fit that noise.

The cost: at a few thousand rows an X-learner ranked better in the synthetic checks (Qini as a
share of the perfect ranking's, 3,000 rows at 90/10: 0.72 DR, 0.92 X; 20,000 rows: 0.87 DR,
0.79 X; 100,000 rows: 0.99 both). The promotion rule (the Qini interval must be above zero)
keeps a small-sample model that cannot rank from being used.

Features: numbers (and booleans) go through a signed log1p and scaling, text and categories
through one-hot encoding (at most `max_categories` columns each, the rarest grouped; unknown
categories at prediction count as rare), as in the churn model.
Everything is seeded: the same rows and config give the same model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from models.clusters import transform as signed_log1p
from models.uplift.doubly_robust import effect_scores

# Bump when the learner's structure changes: it is part of every uplift model version.
LEARNER_SPEC = "uplift-dr-learner-hgb-v1"
LEARNER_CHOICE = (
    "doubly robust learner: cross-fitted gradient-boosted outcome model (treatment as an input), "
    "doubly robust scores with the logged propensity, shallow gradient-boosted regression of the scores"
)
TREATED_INPUT = "__treated__"  # the outcome model's treatment column; a name no table uses
MISSING_CATEGORY = "missing"


class UpliftInputError(ValueError):
    """Rows or columns an uplift model cannot use; the message names the column (and row)."""


@dataclass(frozen=True)
class LearnerConfig:
    """Knobs of the learner; all but `n_threads` are part of an uplift model's version."""

    seed: int = 0
    n_folds: int = 3  # cross-fitting folds of the outcome model
    outcome_max_iter: int = 100
    outcome_max_leaf_nodes: int = 15
    outcome_min_samples_leaf: int = 40
    effect_max_iter: int = 100
    effect_max_depth: int = 2
    effect_min_samples_leaf: int = 100
    learning_rate: float = 0.05
    l2_regularization: float = 1.0
    # Categories per column beyond this share one "infrequent" column: an id-like column cannot
    # blow the one-hot matrix up to one column per user.
    max_categories: int = 20
    # OpenMP threads for fitting (None = all cores): changes speed, not results.
    n_threads: int | None = None

    def __post_init__(self) -> None:
        if self.n_folds < 2:
            raise ValueError(f"cross-fitting needs at least 2 folds, got n_folds={self.n_folds}")


def require_columns(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    """Raise `UpliftInputError` naming every column of `columns` the frame lacks."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise UpliftInputError(f"{what}: missing column(s) {missing}")


def split_feature_kinds(
    frame: pd.DataFrame, features: Sequence[str]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(numeric, categorical): numbers and booleans are numeric, anything else is a category."""
    require_columns(frame, features, "the uplift learner")
    numeric = tuple(
        c for c in features if pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c])
    )
    categorical = tuple(c for c in features if c not in numeric)
    return numeric, categorical


def model_input(frame: pd.DataFrame, numeric: Sequence[str], categorical: Sequence[str]) -> pd.DataFrame:
    """The columns the pipelines read: numbers as float (NaN kept), categories as text.

    One-hot encoding refuses a column mixing text and numbers or holding None, so categories
    become strings with a fixed word for missing values, the same at fitting and at prediction.
    """
    out = pd.DataFrame(index=frame.index)
    for column in numeric:
        out[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    for column in categorical:
        values = frame[column]
        out[column] = values.astype(object).where(values.notna(), MISSING_CATEGORY).astype(str).astype(object)
    return out


def _preprocess(
    numeric: Sequence[str], categorical: Sequence[str], config: LearnerConfig, passthrough: Sequence[str] = ()
) -> ColumnTransformer:
    steps = [
        (
            "numeric",
            Pipeline(
                [
                    ("signed_log1p", FunctionTransformer(signed_log1p, feature_names_out="one-to-one")),
                    ("scale", StandardScaler()),
                ]
            ),
            list(numeric),
        ),
        (
            "categorical",
            OneHotEncoder(
                handle_unknown="infrequent_if_exist",
                max_categories=config.max_categories,
                sparse_output=False,
            ),
            list(categorical),
        ),
    ]
    if passthrough:
        steps.append(("treated", "passthrough", list(passthrough)))
    return ColumnTransformer(steps)


def build_outcome_model(
    numeric: Sequence[str], categorical: Sequence[str], *, binary: bool, config: LearnerConfig
) -> Pipeline:
    """mu(x, t): P(outcome) for a 0/1 outcome, its mean otherwise; the treatment is one more input."""
    settings = dict(
        learning_rate=config.learning_rate,
        max_iter=config.outcome_max_iter,
        max_leaf_nodes=config.outcome_max_leaf_nodes,
        min_samples_leaf=config.outcome_min_samples_leaf,
        l2_regularization=config.l2_regularization,
        random_state=config.seed,
    )
    model = (HistGradientBoostingClassifier if binary else HistGradientBoostingRegressor)(**settings)
    return Pipeline(
        [("preprocess", _preprocess(numeric, categorical, config, (TREATED_INPUT,))), ("outcome", model)]
    )


def build_effect_model(numeric: Sequence[str], categorical: Sequence[str], config: LearnerConfig) -> Pipeline:
    """tau(x): the regression of the doubly robust scores on the features."""
    regressor = HistGradientBoostingRegressor(
        learning_rate=config.learning_rate,
        max_iter=config.effect_max_iter,
        max_depth=config.effect_max_depth,
        max_leaf_nodes=2**config.effect_max_depth,
        min_samples_leaf=config.effect_min_samples_leaf,
        l2_regularization=config.l2_regularization,
        random_state=config.seed,
    )
    return Pipeline([("preprocess", _preprocess(numeric, categorical, config)), ("effect", regressor)])


@dataclass
class UpliftLearner:
    """A fitted uplift model: `predict_uplift` is all a scorer needs.

    `effect_model` is what is saved. The cross-fitted `outcome_models` stay in memory: they
    give the evaluation rows' doubly robust scores (they never saw those rows).
    """

    effect_model: Pipeline
    features: tuple[str, ...]
    categorical_features: tuple[str, ...]
    binary_outcome: bool
    outcome_models: tuple[Pipeline, ...] = field(default=(), repr=False, compare=False)
    # Threads for predicting (None = all cores); not saved: the scorer's machine decides.
    n_threads: int | None = field(default=None, compare=False)

    @property
    def numeric_features(self) -> tuple[str, ...]:
        return tuple(c for c in self.features if c not in self.categorical_features)

    def _input(self, frame: pd.DataFrame) -> pd.DataFrame:
        require_columns(frame, self.features, "this uplift model")
        return model_input(frame, self.numeric_features, self.categorical_features)

    def predict_uplift(self, frame: pd.DataFrame) -> np.ndarray:
        """The predicted effect of sending on each row's outcome (e.g. +0.02 = two points of conversion)."""
        if len(frame) == 0:
            self._input(frame)  # still refuse a frame without the columns
            return np.zeros(0)
        with threadpool_limits(limits=self.n_threads):
            return self.effect_model.predict(self._input(frame)).astype("float64")

    def predict_outcomes(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(mu0, mu1) on rows the outcome models did not see: the mean over the cross-fitting folds."""
        if not self.outcome_models:
            raise RuntimeError("this uplift model was loaded from disk: its outcome models are not kept")
        features = self._input(frame)
        with threadpool_limits(limits=self.n_threads):
            pairs = [_outcome_pair(model, features, self.binary_outcome) for model in self.outcome_models]
        return np.mean([m0 for m0, _ in pairs], axis=0), np.mean([m1 for _, m1 in pairs], axis=0)


def _outcome_pair(model: Pipeline, features: pd.DataFrame, binary: bool) -> tuple[np.ndarray, np.ndarray]:
    predictions = []
    for arm in (0.0, 1.0):
        with_arm = features.assign(**{TREATED_INPUT: arm})
        predictions.append(model.predict_proba(with_arm)[:, 1] if binary else model.predict(with_arm))
    return predictions[0].astype("float64"), predictions[1].astype("float64")


def is_binary(outcome: np.ndarray) -> bool:
    return bool(np.isin(outcome, (0.0, 1.0)).all())


def fit_uplift(
    features: pd.DataFrame,
    treated: np.ndarray,
    outcome: np.ndarray,
    propensity: np.ndarray,
    config: LearnerConfig | None = None,
) -> UpliftLearner:
    """Fit the DR-learner on logged decisions: `treated` 0/1, `outcome` 0/1 or real, `propensity`
    the logged probability that the row was treated (strictly between 0 and 1).

    Every column of `features` is used; numbers and booleans as numbers, anything else as a category.
    """
    config = config or LearnerConfig()
    t = np.asarray(treated, dtype="float64")
    y = np.asarray(outcome, dtype="float64")
    e = np.asarray(propensity, dtype="float64")
    if not len(features) == len(t) == len(y) == len(e):
        raise UpliftInputError(
            f"features ({len(features)} rows), treated ({len(t)}), outcome ({len(y)}) and "
            f"propensity ({len(e)}) differ in length"
        )
    if not np.isfinite(y).all():
        raise UpliftInputError("outcome must be a finite number on every row")
    binary = is_binary(y)
    if len(np.unique(y)) < 2:
        raise UpliftInputError(f"outcome is {y[0] if len(y) else 'absent'} on every row: nothing to learn")
    numeric, categorical = split_feature_kinds(features, list(features.columns))
    inputs = model_input(features.reset_index(drop=True), numeric, categorical)
    # Folds keep each arm's share of outcomes (2t + y: four strata for a 0/1 outcome).
    strata = 2 * t + (y if binary else 0)
    folds = StratifiedKFold(n_splits=config.n_folds, shuffle=True, random_state=config.seed)
    mu0, mu1 = np.zeros(len(y)), np.zeros(len(y))
    outcome_models = []
    with threadpool_limits(limits=config.n_threads):
        for train_rows, predict_rows in folds.split(inputs, strata):
            model = build_outcome_model(numeric, categorical, binary=binary, config=config)
            model.fit(inputs.iloc[train_rows].assign(**{TREATED_INPUT: t[train_rows]}), y[train_rows])
            mu0[predict_rows], mu1[predict_rows] = _outcome_pair(model, inputs.iloc[predict_rows], binary)
            outcome_models.append(model)
        psi = effect_scores(t, y, e, mu0, mu1)
        effect_model = build_effect_model(numeric, categorical, config).fit(inputs, psi)
    return UpliftLearner(
        effect_model=effect_model,
        features=tuple(features.columns),
        categorical_features=categorical,
        binary_outcome=binary,
        outcome_models=tuple(outcome_models),
        n_threads=config.n_threads,
    )
