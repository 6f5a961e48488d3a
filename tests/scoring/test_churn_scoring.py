"""Scoring: one row per customer, and `scoring.churn_scores` rewritten per run date without duplicates."""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import pandas as pd
import pytest
from churn_world import RUN_DATE

from reengage.learning.churn import TrainedModel
from reengage.learning.features import cutoff
from reengage.learning.scoring import score, write_scores


def count(con: duckdb.DuckDBPyConnection, sql: str, **params: object) -> int:
    return con.execute(sql, params).fetchall()[0][0]


def rows_on(con: duckdb.DuckDBPyConnection, run_date: date) -> int:
    return count(con, "select count(*) from scoring.churn_scores where run_date = $d", d=run_date)


def test_score_gives_every_signed_up_customer_one_calibrated_probability(
    trained: TrainedModel, con: duckdb.DuckDBPyConnection
) -> None:
    signed_up = count(
        con, "select count(*) from staging.stg_crm__customers where signup_at < $c", c=cutoff(RUN_DATE)
    )

    scores = score(con, trained, RUN_DATE)

    assert list(scores.columns) == ["customer_id", "churn_probability", "model_version"]
    assert len(scores) == signed_up
    assert scores["customer_id"].is_unique
    assert scores["churn_probability"].between(0, 1).all()
    assert set(scores["model_version"]) == {trained.model_version}


def test_rescoring_a_run_date_replaces_its_rows_and_leaves_other_dates_alone(
    trained: TrainedModel, con: duckdb.DuckDBPyConnection
) -> None:
    previous_day = RUN_DATE - timedelta(days=1)
    write_scores(con, score(con, trained, previous_day), previous_day)
    kept = rows_on(con, previous_day)
    scores = score(con, trained, RUN_DATE)

    write_scores(con, scores, RUN_DATE)
    write_scores(con, scores, RUN_DATE)

    assert rows_on(con, RUN_DATE) == len(scores)
    assert rows_on(con, previous_day) == kept
    duplicates = "select count(*) - count(distinct (customer_id, run_date)) from scoring.churn_scores"
    assert count(con, duplicates) == 0


def test_a_failed_write_leaves_the_previous_scores_in_place(
    trained: TrainedModel, con: duckdb.DuckDBPyConnection
) -> None:
    scores = score(con, trained, RUN_DATE)
    write_scores(con, scores, RUN_DATE)
    broken = scores.assign(churn_probability=pd.Series([None] * len(scores), dtype="float64"))

    with pytest.raises(duckdb.ConstraintException):
        write_scores(con, broken, RUN_DATE)

    stored = con.execute(
        "select customer_id, churn_probability from scoring.churn_scores where run_date = $d",
        {"d": RUN_DATE},
    ).fetchall()
    expected = scores[["customer_id", "churn_probability"]].itertuples(index=False, name=None)
    assert sorted(stored) == sorted(expected)


def test_duplicate_customers_are_rejected_before_anything_is_written(
    trained: TrainedModel, con: duckdb.DuckDBPyConnection
) -> None:
    scores = score(con, trained, RUN_DATE)

    with pytest.raises(ValueError, match="duplicate"):
        write_scores(con, pd.concat([scores, scores.head(1)]), RUN_DATE)
