"""Apply a trained churn model to today's snapshot and store the scores.

Scores use the same `snapshot_features` as training, as of the run date, so a
score for D never reads an event after D. `write_scores` replaces one run
date's rows in a single transaction: a rerun or a backfill of D leaves exactly
one row per customer for D and never touches other dates.
"""

from __future__ import annotations

from datetime import date

import duckdb
import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from reengage.learning.churn import TrainedModel
from reengage.learning.features import snapshot_features
from reengage.learning.tables import replace_run_date
from reengage.schema.declared import CHURN_SCORES

SCORES_TABLE = CHURN_SCORES.name
SCORE_COLUMNS = ["customer_id", "churn_probability", "model_version"]


def score(
    con: duckdb.DuckDBPyConnection, model: TrainedModel, as_of: date, *, n_threads: int | None = None
) -> pd.DataFrame:
    """One row per customer signed up by `as_of`: customer_id, churn_probability, model_version.

    `n_threads` caps OpenMP threads for prediction (None = all cores). On a machine
    shared with other jobs, 1 is often faster: oversubscribed OpenMP threads spin.
    """
    features = snapshot_features(con, as_of)
    if features.empty:
        return empty_scores()
    with threadpool_limits(limits=n_threads):
        proba = model.predict_proba(features)
    if not np.all((proba >= 0.0) & (proba <= 1.0)):
        raise ValueError(f"model {model.model_version} returned probabilities outside [0, 1]")
    return pd.DataFrame(
        {
            "customer_id": features["customer_id"].to_numpy(),
            "churn_probability": proba.astype("float64"),
            "model_version": model.model_version,
        }
    )


def empty_scores() -> pd.DataFrame:
    """A zero-row frame with the scores' columns and types."""
    return pd.DataFrame(
        {
            "customer_id": pd.Series(dtype=object),
            "churn_probability": pd.Series(dtype="float64"),
            "model_version": pd.Series(dtype=object),
        }
    )


def write_scores(con: duckdb.DuckDBPyConnection, scores: pd.DataFrame, run_date: date) -> int:
    """Replace `run_date`'s rows with `scores` atomically; returns the number of rows written."""
    return replace_run_date(con, SCORES_TABLE, scores, SCORE_COLUMNS, run_date)
