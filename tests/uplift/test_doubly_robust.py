"""The doubly robust score every uplift estimate rests on."""

from __future__ import annotations

import numpy as np
import pytest

from reengage.learning.uplift.doubly_robust import arm_scores, effect_scores


def _randomized(n: int, seed: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    x = rng.random(n)
    propensity = np.where(x < 0.5, 0.2, 0.9)  # known, and different by kind of user
    treated = (rng.random(n) < propensity).astype(float)
    effect = 0.3 * x  # true average effect 0.15
    outcome = (rng.random(n) < 0.2 + effect * treated).astype(float)
    return x, treated, outcome, propensity


def test_the_mean_score_recovers_the_true_effect_with_known_propensities_and_wrong_outcome_models():
    # Guards the unbiasedness the learner and the policy estimates rely on: with the logged
    # propensity exact, outcome models that are plainly wrong must not bias the mean.
    x, treated, outcome, propensity = _randomized(400_000, seed=3)
    wrong = np.full(len(x), 0.7)
    psi = effect_scores(treated, outcome, propensity, mu0=wrong, mu1=wrong * 0.5)
    assert psi.mean() == pytest.approx(0.15, abs=0.01)


def test_the_arm_scores_of_a_row_fall_back_to_the_outcome_model_of_the_arm_it_did_not_get():
    gamma0, gamma1 = arm_scores(
        treated=np.array([1.0, 0.0]),
        outcome=np.array([1.0, 0.0]),
        propensity=np.array([0.5, 0.25]),
        mu0=np.array([0.1, 0.2]),
        mu1=np.array([0.3, 0.4]),
    )
    assert gamma1.tolist() == pytest.approx([0.3 + 0.7 / 0.5, 0.4])
    assert gamma0.tolist() == pytest.approx([0.1, 0.2 - 0.2 / 0.75])


@pytest.mark.parametrize("propensity", [0.0, 1.0])
def test_a_decision_taken_for_certain_is_refused_as_evidence(propensity):
    # A row that could only have gone one way says nothing about the other arm; dividing by
    # zero would hide that as an infinite score.
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        effect_scores(
            np.array([1.0]), np.array([1.0]), np.array([propensity]), np.array([0.0]), np.array([0.0])
        )
