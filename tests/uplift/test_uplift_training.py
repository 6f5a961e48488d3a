"""Time-based validation of uplift models: what they learn from, what they are judged on, what is refused."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from reengage.learning.churn import TrainingError
from reengage.learning.features import LeakageError
from reengage.learning.uplift.learner import UpliftInputError
from reengage.learning.uplift.training import TrainedUplift, derive_version, train_and_evaluate
from tests.uplift.uplift_world import FEATURES, config, decisions


def test_the_model_is_judged_on_the_latest_days_and_never_learns_from_them(trained: TrainedUplift):
    # Guards against a random split: the evaluation days are the latest ones, after every training day.
    assert len(trained.evaluation_days) == 5
    assert max(trained.training_days) < min(trained.evaluation_days)
    assert trained.evaluation_days[-1].isoformat() == "2026-03-20"
    counts = trained.row_counts
    assert counts["training"]["rows"] + counts["evaluation"]["rows"] == 12_000
    assert counts["evaluation"]["treated"] + counts["evaluation"]["holdout"] == counts["evaluation"]["rows"]
    assert trained.evaluation.rows == counts["evaluation"]["rows"]


def test_gap_days_are_left_out_between_training_and_evaluation():
    # Guards the attribution-window gap: a user's conversion must not be a training outcome and,
    # days later, inside an evaluation row's window.
    model = train_and_evaluate(decisions(3_000, seed=12), config(gap_days=3, bootstrap=20))

    assert (min(model.evaluation_days) - max(model.training_days)).days == 4


def test_a_share_of_rows_holds_out_whole_latest_days():
    # Guards --holdout-share with a day column: days are never split between training and evaluation.
    model = train_and_evaluate(
        decisions(3_000, seed=13), config(holdout_days=None, holdout_share=0.3, bootstrap=20)
    )

    assert max(model.training_days) < min(model.evaluation_days)
    assert 0.3 <= model.row_counts["evaluation"]["rows"] / 3_000 < 0.3 + 2 / 20  # whole days of ~5%


def test_features_computed_after_the_decision_day_are_refused_as_leakage():
    # Guards against evaluating on features that saw the outcome: a row whose features read an
    # event at or after the end of its decision day is named and the table refused.
    table = decisions(3_000, seed=14)
    cutoff = pd.to_datetime(table["run_date"]).dt.tz_localize(UTC) + timedelta(days=1)
    table["max_event_ts_used"] = cutoff - timedelta(hours=1)
    table.loc[41, "max_event_ts_used"] = cutoff[41]  # the first instant it must not see

    with pytest.raises(LeakageError, match=r"column 'max_event_ts_used', row 42: features read an event"):
        train_and_evaluate(table, config(feature_ts_column="max_event_ts_used"))


def test_features_read_before_the_end_of_the_decision_day_are_accepted():
    # The other side of the guard: events of the decision day itself are allowed.
    table = decisions(3_000, seed=14)
    table["max_event_ts_used"] = [
        datetime(d.year, d.month, d.day, 23, 59, tzinfo=UTC) for d in table.run_date
    ]

    model = train_and_evaluate(table, config(feature_ts_column="max_event_ts_used", bootstrap=20))

    assert "max_event_ts_used" not in model.features


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (dict(rows=300), "training data has .* rows; at least 500 are needed"),
        (dict(treated_share=0.995), "has [0-9]+ holdout rows .* each arm needs at least 50"),
        (dict(days=1), "covers 1 decision day"),
    ],
)
def test_a_table_too_small_to_judge_is_refused_with_the_reason(change, reason):
    # Guards against a model card built on a handful of rows of one arm.
    rows = change.pop("rows", 4_000)

    with pytest.raises(TrainingError, match=reason):
        train_and_evaluate(decisions(rows, seed=15, **change), config())


def test_a_bad_value_is_refused_naming_the_table_column_and_row():
    # Guards the input contract: a certain decision (propensity 1) says nothing about the other arm.
    table = decisions(2_000, seed=16)
    table.loc[6, "propensity"] = 1.0

    with pytest.raises(
        UpliftInputError, match=r"decisions\.csv: column 'propensity', row 7: must be strictly"
    ):
        train_and_evaluate(table, config(), source="decisions.csv")


def test_the_version_is_the_same_for_the_same_rows_in_any_order_and_changes_with_data_or_config():
    # Guards versioning by content: no clock, no row order, and nothing else that does not change the model.
    table = decisions(2_500, seed=17)
    first = train_and_evaluate(table, config(bootstrap=20))
    shuffled = train_and_evaluate(table.sample(frac=1, random_state=1), config(bootstrap=20))
    other_data = train_and_evaluate(table.drop(index=[0]), config(bootstrap=20))

    assert first.model_version.startswith("uplift-") and len(first.model_version) == len("uplift-") + 16
    assert shuffled.model_version == first.model_version
    assert shuffled.evaluation.qini == first.evaluation.qini
    assert other_data.model_version != first.model_version
    fingerprint = first.data_fingerprint
    assert derive_version(fingerprint, config(bootstrap=20, gap_days=1), FEATURES) != first.model_version
    threads = dataclasses.replace(config().learner, n_threads=2)  # speed only, not the model
    assert derive_version(fingerprint, config(bootstrap=20, learner=threads), FEATURES) == first.model_version
