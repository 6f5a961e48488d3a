"""Outcome models (mu0, mu1) for the doubly robust estimates when the caller has none.

Cross-fitted: the rows are cut into folds (all of a user's rows in one fold when a cluster key is
given), and each fold's predictions come from models fitted on the other folds, so no row's own
outcome leaks into the prediction that corrects it; in-sample predictions would shrink the
correction term and the interval with it. One model per arm (treated rows for mu1, the control
rows for mu0: by default every row not treated; `control` narrows it to the rows held back for
good, `doubly_robust` says why), seeded gradient boosting: a classifier's probability for a 0/1
outcome, a regressor otherwise.
An arm with too few rows (or one outcome only) in a fold's training part predicts its mean there.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.model_selection import GroupKFold, KFold
from threadpoolctl import threadpool_limits

# Fewer training rows than this in an arm and the fold predicts the arm's mean instead of a model.
MIN_ARM_ROWS = 40


def _model_matrix(features: pd.DataFrame) -> pd.DataFrame:
    """Numbers stay numbers; text columns become categories, which gradient boosting splits natively."""
    matrix = features.reset_index(drop=True).copy()
    for column in matrix.columns:
        series = matrix[column]
        if pd.api.types.is_bool_dtype(series):
            matrix[column] = series.astype(np.float64)
        elif not pd.api.types.is_numeric_dtype(series):
            matrix[column] = series.astype("category")
    return matrix


def _fit_predict(
    train: pd.DataFrame, outcome: np.ndarray, predict: pd.DataFrame, binary: bool, seed: int
) -> np.ndarray:
    if len(outcome) < MIN_ARM_ROWS or np.unique(outcome).size < 2:
        return np.full(len(predict), outcome.mean() if len(outcome) else np.nan)
    if binary:
        model = HistGradientBoostingClassifier(random_state=seed).fit(train, outcome)
        return model.predict_proba(predict)[:, 1]
    return HistGradientBoostingRegressor(random_state=seed).fit(train, outcome).predict(predict)


def cross_fitted_outcome_models(
    features: pd.DataFrame,
    treated: ArrayLike,
    outcome: ArrayLike,
    *,
    control: ArrayLike | None = None,
    cluster: ArrayLike | None = None,
    folds: int = 5,
    seed: int = 0,
    n_threads: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(mu0, mu1): every row's predicted outcome if held and if treated, from models that never saw it.

    `control`: 1 on the rows mu0 learns from (default: every row not treated).
    `n_threads` bounds the OpenMP threads of the fits (None = all cores): it changes speed, not results.
    """
    t = np.asarray(treated, dtype=np.float64)
    y = np.asarray(outcome, dtype=np.float64)
    c = 1.0 - t if control is None else np.asarray(control, dtype=np.float64)
    if len(features) != len(t) or len(t) != len(y) or len(y) != len(c):
        raise ValueError(
            f"features ({len(features)} rows), treated ({len(t)}), control ({len(c)}) and outcome "
            f"({len(y)}) differ in length"
        )
    if features.shape[1] == 0:
        raise ValueError("no feature columns to fit outcome models on")
    matrix = _model_matrix(features)
    binary = bool(np.isin(y, (0.0, 1.0)).all())
    if cluster is None:
        splits = KFold(n_splits=folds, shuffle=True, random_state=seed).split(matrix)
    else:
        groups = pd.factorize(pd.Series(np.asarray(cluster, dtype=object)))[0]
        if np.unique(groups).size < folds:
            raise ValueError(f"{np.unique(groups).size} clusters cannot be cut into {folds} folds")
        splits = GroupKFold(n_splits=folds, shuffle=True, random_state=seed).split(matrix, groups=groups)
    mu0, mu1 = np.empty(len(y)), np.empty(len(y))
    arms = ((c == 1.0, mu0), (t == 1.0, mu1))
    with threadpool_limits(limits=n_threads):
        for train, predict in splits:
            for member, mu in arms:
                rows = train[member[train]]
                mu[predict] = _fit_predict(matrix.iloc[rows], y[rows], matrix.iloc[predict], binary, seed)
    # An arm absent from a whole training part leaves NaN there: its mean over the log is the best guess.
    for member, mu in arms:
        if np.isnan(mu).any():
            seen = y[member]
            mu[np.isnan(mu)] = seen.mean() if len(seen) else y.mean()
    return mu0, mu1
