"""Churn-risk model: point-in-time features, training, a file registry, and scoring.

Plain Python over a DuckDB connection; nothing here imports Dagster, so it runs
in a notebook, a test or a script as well as under `reengage/defs/scoring`.

    features.py  snapshot_features / label_examples (SQL, leakage-guarded)
    churn.py     train -> TrainedModel (calibrated HGB, holdout metrics vs recency)
    registry.py  save / load / promote_if_better (skops files, CURRENT pointer)
    scoring.py   score / write_scores (scoring.churn_scores, one run date at a time)
"""
