"""Qini, AUUC, their intervals, the decile calibration and the promotion rule on known worlds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reengage.learning.uplift.evaluation import (
    Interval,
    UpliftEvaluation,
    auuc,
    evaluate_uplift,
    promotion_verdict,
    qini_coefficient,
)
from tests.uplift.uplift_world import HARMED, HELPED, decisions


def _true_figures() -> tuple[float, float, float]:
    """Qini, AUUC and average effect of ranking by affinity, from the world's definition.

    Affinity is uniform on [0, 1] and the true effect a step function of it, so the gain of
    targeting the top share s is the integral of the effect over the top s of affinities.
    """
    share = (np.arange(200_000) + 1) / 200_000
    affinity = 1 - share + 0.5 / 200_000
    effect = np.where(affinity > 0.6, HELPED, np.where(affinity < 0.3, HARMED, 0.0))
    gain = np.cumsum(effect) / len(share)
    return (
        float(np.mean(gain - share * gain[-1])),
        float(np.mean(gain / share - gain[-1])),
        float(gain[-1]),
    )


TRUE_QINI, TRUE_AUUC, TRUE_EFFECT = _true_figures()


def _evaluate(table: pd.DataFrame, **options) -> UpliftEvaluation:
    return evaluate_uplift(
        table["affinity"].to_numpy(), table["treated"], table["converted"], table["propensity"], **options
    )


def test_a_ranking_that_says_nothing_scores_exactly_zero():
    # Guards the "random scores 0" normalisation: equal predictions are one block whatever the
    # row order, so neither coefficient can pick up the order in which the rows arrived.
    table = decisions(5_000, seed=1)

    evaluation = evaluate_uplift(
        np.zeros(len(table)), table["treated"], table["converted"], table["propensity"]
    )

    assert evaluation.qini.estimate == pytest.approx(0.0, abs=1e-12)
    assert evaluation.auuc.estimate == pytest.approx(0.0, abs=1e-12)
    assert len(evaluation.calibration) == 1


def test_a_straight_curve_has_no_area_and_a_bowed_one_has_the_area_between_it_and_the_line():
    # Guards the two integrals against the random line: checked by hand on a two-segment curve.
    share = np.array([0.0, 0.5, 1.0])
    straight = np.array([0.0, 0.05, 0.1])
    bowed = np.array([0.0, 0.1, 0.1])  # all of the effect in the top half

    assert qini_coefficient(share, straight) == pytest.approx(0.0)
    assert auuc(share, straight) == pytest.approx(0.0)
    assert qini_coefficient(share, bowed) == pytest.approx(0.025)  # triangle 0.5 * 1 * 0.05
    # Effect among the targeted: 0.2 on the top half, then 0.1 / s; minus the overall 0.1.
    assert auuc(share, bowed) == pytest.approx(0.5 * 0.2 + 0.1 * np.log(2) - 0.1)


def test_the_same_users_score_alike_at_90_10_and_50_50():
    # Guards the propensity weighting: the arms' sizes must not change what the ranking is worth.
    figures = {}
    for assignment, share in enumerate((0.9, 0.5)):
        table = decisions(40_000, seed=7, treated_share=share, assignment_seed=assignment)
        figures[share] = _evaluate(table, bootstrap=1)

    assert figures[0.9].qini.estimate == pytest.approx(figures[0.5].qini.estimate, abs=0.004)
    assert figures[0.9].average_effect.estimate == pytest.approx(
        figures[0.5].average_effect.estimate, abs=0.01
    )
    assert figures[0.9].qini.estimate == pytest.approx(TRUE_QINI, abs=0.004)


def test_probabilities_that_differ_by_user_are_weighted_back_to_the_whole_population():
    # Guards the weighting by each row's own propensity: here the helped are treated far more
    # often than the rest, which an estimate from the arms' plain means would take for effect.
    affinity = decisions(40_000, seed=8)["affinity"].to_numpy()
    table = decisions(40_000, seed=8, treated_share=np.where(affinity > 0.6, 0.95, 0.3))

    evaluation = _evaluate(table, bootstrap=1)

    plain_difference = table.groupby("treated")["converted"].mean().diff().iloc[-1]
    assert plain_difference == pytest.approx(TRUE_EFFECT + 0.03, abs=0.01)  # what ignoring e would say
    assert evaluation.average_effect.estimate == pytest.approx(TRUE_EFFECT, abs=0.01)
    assert evaluation.qini.estimate == pytest.approx(TRUE_QINI, abs=0.003)


def test_bootstrap_intervals_cover_the_true_figures_in_most_draws():
    # Guards the intervals the promotion rule rests on: 95% intervals from 30 independent
    # samples must contain the true Qini and average effect most of the time.
    draws = 30
    covered = {"qini": 0, "auuc": 0, "average_effect": 0}
    truth = {"qini": TRUE_QINI, "auuc": TRUE_AUUC, "average_effect": TRUE_EFFECT}
    for seed in range(draws):
        evaluation = _evaluate(decisions(4_000, seed=seed, treated_share=0.8), bootstrap=200, seed=seed)
        for name in covered:
            interval = getattr(evaluation, name)
            covered[name] += interval.low <= truth[name] <= interval.high

    assert all(count >= 0.8 * draws for count in covered.values()), covered


def test_the_same_seed_gives_the_same_intervals_and_another_seed_other_ones():
    # Guards reproducible model cards: the bootstrap is seeded.
    table = decisions(3_000, seed=2)

    first, again, other = (_evaluate(table, bootstrap=100, seed=s) for s in (5, 5, 6))

    assert first.qini == again.qini
    assert first.qini != other.qini


def test_the_realised_uplift_by_decile_tracks_the_predicted_one_in_a_well_specified_world():
    # Guards the calibration table: with the true effect as the prediction, each decile's
    # realised uplift must match it within its interval, and the counts must add up per arm.
    table = decisions(60_000, seed=9, treated_share=0.8)

    calibration = evaluate_uplift(
        table["true_uplift"] + table["affinity"] * 1e-6,  # ties broken so there are ten deciles
        table["treated"],
        table["converted"],
        table["propensity"],
        bootstrap=1,
    ).calibration

    assert calibration["decile"].tolist() == list(range(1, 11))
    assert calibration["rows"].sum() == len(table)
    assert calibration["treated_rows"].sum() == table["treated"].sum()
    assert (calibration["treated_rows"] + calibration["holdout_rows"] == calibration["rows"]).all()
    inside = (calibration["realised_low"] <= calibration["predicted_uplift"]) & (
        calibration["predicted_uplift"] <= calibration["realised_high"]
    )
    assert inside.sum() >= 9, calibration
    assert np.corrcoef(calibration["predicted_uplift"], calibration["realised_uplift"])[0, 1] > 0.9


@pytest.mark.parametrize(
    ("low", "promoted", "phrase"),
    [(0.001, True, "is above 0"), (0.0, False, "not above 0"), (-0.002, False, "not above 0")],
)
def test_promotion_needs_the_whole_qini_interval_above_random_and_says_why(low, promoted, phrase):
    # Guards the rule itself: an interval that reaches 0 (random targeting) is not enough.
    table = decisions(2_000, seed=3)
    evaluation = _evaluate(table, bootstrap=10)
    evaluation = UpliftEvaluation(
        **{**evaluation.__dict__, "qini": Interval(estimate=0.01, low=low, high=0.02)}
    )

    verdict, reason = promotion_verdict(evaluation)

    assert verdict is promoted
    assert phrase in reason and "Qini coefficient 0.01000" in reason


def test_one_users_repeated_decisions_do_not_narrow_the_interval_when_drawn_by_user():
    # Guards the clustered bootstrap: a user decided on four days is one user, not four pieces of
    # evidence; drawing rows one by one would halve the interval's width.
    table = decisions(4_000, seed=10)
    repeated = pd.concat([table] * 4, ignore_index=True)

    def width(evaluation: UpliftEvaluation) -> float:
        return evaluation.qini.high - evaluation.qini.low

    alone = width(_evaluate(table, bootstrap=300))
    by_user = width(_evaluate(repeated, bootstrap=300, cluster=repeated["customer_id"]))
    by_row = width(_evaluate(repeated, bootstrap=300))

    assert by_user == pytest.approx(alone, rel=0.2)
    assert by_row == pytest.approx(alone / 2, rel=0.2)
