"""The uplift learner: it ranks the users a message helps first, and finds nothing where there is nothing."""

from __future__ import annotations

import numpy as np
import pytest

from reengage.learning.uplift.evaluation import evaluate_uplift, promotion_verdict
from reengage.learning.uplift.learner import UpliftInputError, fit_uplift
from reengage.learning.uplift.outcome_models import cross_fitted_outcome_models
from tests.uplift.uplift_world import FEATURES, decisions


def _fit(table):
    return fit_uplift(table[list(FEATURES)], table["treated"], table["converted"], table["propensity"])


def _judge(learner, fresh, seed=0, outcome_models=True):
    mu0, mu1 = (
        cross_fitted_outcome_models(fresh[list(FEATURES)], fresh["treated"], fresh["converted"], folds=3)
        if outcome_models
        else (None, None)
    )
    return evaluate_uplift(
        learner.predict_uplift(fresh),
        fresh["treated"],
        fresh["converted"],
        fresh["propensity"],
        mu0=mu0,
        mu1=mu1,
        bootstrap=200,
        seed=seed,
    )


def test_the_learner_ranks_users_the_message_helps_above_users_it_harms():
    # Guards the learner's purpose: on held-out users its ranking must beat random targeting
    # with an interval above zero, and the helped must score above the harmed.
    learner = _fit(decisions(20_000, seed=1, treated_share=0.8))
    fresh = decisions(20_000, seed=2, treated_share=0.8)

    predicted = learner.predict_uplift(fresh)
    evaluation = _judge(learner, fresh)

    helped = fresh["true_uplift"] > 0
    harmed = fresh["true_uplift"] < 0
    assert predicted[helped].mean() > predicted[harmed].mean() + 0.02
    assert evaluation.qini.low > 0, evaluation.qini
    assert promotion_verdict(evaluation)[0]


def test_a_world_where_the_message_changes_nothing_is_refused_promotion_in_nearly_every_seed():
    # Guards against promoting noise: with no effect anywhere, a ranking can only look good by
    # chance, and the rule (interval above zero) must refuse it nearly always.
    refused = 0
    for seed in range(6):
        learner = _fit(decisions(4_000, seed=seed, effect_scale=0.0, treated_share=0.9))
        fresh = decisions(4_000, seed=100 + seed, effect_scale=0.0, treated_share=0.9)
        evaluation = _judge(learner, fresh, seed, outcome_models=False)  # arm means: cheaper, as unbiased
        refused += not promotion_verdict(evaluation)[0]
    assert refused >= 5


def test_the_same_rows_and_seed_give_the_same_predictions():
    # Guards reproducibility: a model version names a model, so refitting must not change it.
    table = decisions(2_000, seed=3)
    np.testing.assert_array_equal(_fit(table).predict_uplift(table), _fit(table).predict_uplift(table))


def test_scoring_a_frame_without_a_feature_names_the_missing_column(trained):
    # Guards the scorer against a silent default for a column the model needs.
    table = decisions(10, seed=4)

    with pytest.raises(UpliftInputError, match="sessions_28d"):
        trained.predict_uplift(table.drop(columns=["sessions_28d"]))


def test_a_category_never_seen_in_training_is_scored_not_refused(trained):
    # Guards the daily scorer: a new plan name must not stop scoring for everyone.
    table = decisions(3, seed=5)

    scored = trained.predict_uplift(table.assign(plan=["enterprise", None, "free"]))

    assert np.isfinite(scored).all()


def test_a_column_of_identifiers_is_refused_as_a_feature_naming_it():
    # Guards the command's default (every other column is a feature) against learning user ids.
    table = decisions(3_000, seed=6)

    with pytest.raises(UpliftInputError, match="'customer_id' has 3,000 distinct values"):
        fit_uplift(
            table[["customer_id", *FEATURES]], table["treated"], table["converted"], table["propensity"]
        )
