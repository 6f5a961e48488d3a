"""Uplift models are judged on users they never learned from, and a no-effect campaign is not promoted."""

from __future__ import annotations

import numpy as np
import pandas as pd

from reengage.learning.uplift.evaluation import promotion_verdict
from reengage.learning.uplift.training import judging_users, split_days, train_and_evaluate
from tests.uplift.lasting_world import config, no_effect_log


def test_no_user_is_both_learned_from_and_judged():
    # Guards the split itself: the judged rows are the latest days of the judging users only and
    # the learned rows the earlier days of the others, about half the users on each side.
    log = no_effect_log(2_000, 21, seed=1)
    model = train_and_evaluate(log, config(bootstrap=20))

    judging = judging_users(log["customer_id"], 0.5, "lasting")
    training_days, evaluation_days = split_days(log["run_date"], config())
    on_evaluation_days = log["run_date"].isin(evaluation_days).to_numpy()
    on_training_days = log["run_date"].isin(training_days).to_numpy()
    assert model.row_counts["evaluation"]["rows"] == int((on_evaluation_days & judging).sum())
    assert model.row_counts["training"]["rows"] == int((on_training_days & ~judging).sum())
    held_back_converted = (log["control"] == 1).to_numpy() & (log["converted"] == 1).to_numpy()
    assert model.row_counts["evaluation"]["holdout_outcomes"] == int(
        (on_evaluation_days & judging & held_back_converted).sum()
    )
    share = log.loc[judging, "customer_id"].nunique() / log["customer_id"].nunique()
    assert 0.45 < share < 0.55


def test_a_user_stays_on_the_same_side_in_every_fit_and_each_campaign_draws_its_own():
    # Guards the comparison with the current model: it learned from the users of an earlier fit,
    # so a user must never move from the learning side to the judged side as data grows.
    users = pd.Series([f"user-{i}" for i in range(4_000)])
    first = pd.Series(judging_users(users, 0.5, "winback"), index=users)
    later = users.sample(frac=1.0, random_state=3).iloc[:2_500]  # another fit: other rows, other order
    again = pd.Series(judging_users(later.reset_index(drop=True), 0.5, "winback"), index=later.to_numpy())
    assert (again == first[again.index]).all()
    other = judging_users(users, 0.5, "cart")
    assert 0.4 < np.mean(other == first.to_numpy()) < 0.6  # campaigns are split independently


def test_a_no_effect_campaign_with_lasting_holdouts_and_habits_is_not_promoted():
    # Guards the promotion gate against a model that remembers people: judged on the same users
    # it learned from, a ranking of a message that does nothing beats random in this world (the
    # first half of the test shows it), and a campaign judged weekly would get such a model.
    # Judged on other users, at the daily job's 99%, it never is in these eight logs.
    logs = [no_effect_log(2_000, 21, seed=seed) for seed in range(8)]

    same_users = [train_and_evaluate(log, config(judging_user_share=None)).evaluation for log in logs]
    other_users = [train_and_evaluate(log, config(confidence=0.99)).evaluation for log in logs]

    def mean_and_error(evaluations):
        qini = np.array([e.qini.estimate for e in evaluations])
        return qini.mean(), qini.std(ddof=1) / np.sqrt(len(qini))

    mean, error = mean_and_error(same_users)
    assert mean > 3 * error and sum(promotion_verdict(e)[0] for e in same_users) >= 2
    mean, error = mean_and_error(other_users)
    assert abs(mean) < 2 * error
    assert not any(promotion_verdict(e)[0] for e in other_users)
