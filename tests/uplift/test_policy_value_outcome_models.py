"""Cross-fitted outcome models, so the doubly robust estimate works without an outcome model of one's own."""

from __future__ import annotations

import numpy as np
import pandas as pd

from reengage.learning.uplift.outcome_models import cross_fitted_outcome_models
from reengage.learning.uplift.policy_value import DecisionLog, estimate_policy_value
from tests.uplift.test_policy_value import candidate, logged


def test_fitted_outcome_models_make_the_dr_estimate_recover_the_value_with_less_noise_than_ips():
    # Guards the stand-alone path: a caller with features but no model gets a DR estimate that is
    # right (within its interval of the truth) and better than IPS.
    log = logged(4_000, seed=21)
    features = pd.DataFrame({"x": log.x, "noise": np.random.default_rng(0).random(4_000)})
    mu0, mu1 = cross_fitted_outcome_models(features, log.treated, log.outcome, folds=3, n_threads=1)
    p = candidate(log.x)
    truth = float(np.mean(p * (log.sent_outcome - log.held_outcome)))
    result = estimate_policy_value(DecisionLog(log.treated, log.outcome, log.propensity, mu0=mu0, mu1=mu1), p)
    dr, ips = result.incremental["dr"], result.incremental["ips"]
    assert abs(dr.mean - truth) < 3 * dr.se
    assert dr.se < 0.8 * ips.se


def test_the_same_seed_gives_the_same_outcome_models():
    # Guards reproducible reports: the same log and seed must print the same estimates.
    log = logged(600, seed=22)
    features = pd.DataFrame({"x": log.x, "plan": np.where(log.x > 0.3, "pro", "free")})
    first = cross_fitted_outcome_models(features, log.treated, log.outcome, folds=3, seed=4, n_threads=1)
    again = cross_fitted_outcome_models(features, log.treated, log.outcome, folds=3, seed=4, n_threads=1)
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])


def test_a_users_rows_are_predicted_by_models_that_never_saw_that_user():
    # Guards against leaking a user's outcome into the model that corrects it: each user converts
    # on all of their rows or none, at random, and a user-specific feature identifies them. Folds
    # over rows would let the model learn the user from their other rows; folds over users cannot.
    rng = np.random.default_rng(23)
    user = np.repeat(np.arange(200), 10)
    fingerprint = rng.random(200)[user]  # tells users apart, says nothing about new ones
    outcome = (rng.random(200) < 0.5)[user].astype(float)
    treated = (rng.random(len(user)) < 0.5).astype(float)
    features = pd.DataFrame({"fingerprint": fingerprint})
    _, by_user = cross_fitted_outcome_models(features, treated, outcome, cluster=user, folds=3, n_threads=1)
    _, by_row = cross_fitted_outcome_models(features, treated, outcome, folds=3, n_threads=1)
    assert np.corrcoef(by_row, outcome)[0, 1] > 0.5  # the leak the cluster key prevents
    assert abs(np.corrcoef(by_user, outcome)[0, 1]) < 0.2


def test_an_arm_with_one_outcome_only_predicts_exactly_that_outcome():
    # Guards small campaigns with rare conversions: nobody in the holdout converted. The held
    # arm's prediction must be that plain fact (0), not whatever a classifier fitted on a single
    # class makes of it.
    rng = np.random.default_rng(24)
    treated = (rng.random(600) < 0.7).astype(float)
    outcome = np.where(treated == 1, (rng.random(600) < 0.3).astype(float), 0.0)
    features = pd.DataFrame({"x": rng.random(600)})
    mu0, mu1 = cross_fitted_outcome_models(features, treated, outcome, folds=3, n_threads=1)
    assert (mu0 == 0.0).all()
    assert np.isfinite(mu1).all() and 0.1 < mu1.mean() < 0.5
