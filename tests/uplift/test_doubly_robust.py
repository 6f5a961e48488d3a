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


def test_rows_neither_sent_nor_held_back_for_good_count_through_the_outcome_models_alone():
    # Guards the three-way log: a row not drawn today may be sent tomorrow, so its outcome must
    # not enter the comparison arm; a holdout's is weighted by the chance of being held back.
    gamma0, gamma1 = arm_scores(
        treated=np.array([1.0, 0.0, 0.0]),
        outcome=np.array([1.0, 1.0, 1.0]),
        propensity=np.array([0.27, 0.27, 0.27]),
        mu0=np.array([0.1, 0.1, 0.1]),
        mu1=np.array([0.3, 0.3, 0.3]),
        control=np.array([0.0, 1.0, 0.0]),
        control_propensity=np.array([0.03, 0.03, 0.03]),
    )
    assert gamma1.tolist() == pytest.approx([0.3 + 0.7 / 0.27, 0.3, 0.3])
    assert gamma0.tolist() == pytest.approx([0.1, 0.1 + 0.9 / 0.03, 0.1])


def test_with_the_comparison_arm_recorded_the_mean_score_recovers_the_effect_of_a_message_against_none():
    # Half the rows not drawn are sent later, which lifts their outcome by part of the effect:
    # the two-arm score reads that as a smaller effect; the three-arm score does not.
    rng = np.random.default_rng(5)
    n = 400_000
    drawn = rng.random(n) < 0.3
    held = drawn & (rng.random(n) < 0.1)
    treated, control = (drawn & ~held).astype(float), held.astype(float)
    later = ~drawn & (rng.random(n) < 0.5)
    outcome = (rng.random(n) < 0.2 + 0.15 * treated + 0.1 * later).astype(float)
    e, e0, mu = np.full(n, 0.27), np.full(n, 0.03), np.full(n, 0.25)
    assert effect_scores(treated, outcome, e, mu, mu, control, e0).mean() == pytest.approx(0.15, abs=0.01)
    assert effect_scores(treated, outcome, e, mu, mu).mean() < 0.15 - 0.03


@pytest.mark.parametrize(
    ("control", "control_propensity", "message"),
    [
        ([1.0], [0.03], "both treated and a control"),
        ([0.0], [0.0], "control propensity must be above 0"),
        ([0.0], [0.8], "at most 1 - propensity"),
    ],
)
def test_a_comparison_arm_that_cannot_be_right_is_refused(control, control_propensity, message):
    with pytest.raises(ValueError, match=message):
        effect_scores(
            np.array([1.0]),
            np.array([1.0]),
            np.array([0.27]),
            np.array([0.0]),
            np.array([0.0]),
            np.array(control),
            np.array(control_propensity),
        )
