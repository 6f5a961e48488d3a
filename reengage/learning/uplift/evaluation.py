"""How well a ranking by predicted uplift finds the users a message helps, judged on held-out rows.

Every figure rests on each row's doubly robust effect score (`reengage.learning.uplift.doubly_robust`):

    psi = mu1 - mu0 + t * (y - mu1) / e - c * (y - mu0) / e0

with e the logged probability that the row was treated and e0 that it was held back for good
(c = 1: a holdout; every row not treated unless the caller says which rows are controls). Dividing
by the probability of the arm the row actually got is what handles arms of any size (90/10 as
well as 50/50) and a probability that differs from row to row: each arm's rows stand for the
whole population. mu0 and mu1 are outcome predictions from models that never saw these rows
(cross-fitted outcome models, `outcome_models.py`); without them, the propensity-weighted mean
outcome of each arm is used for every row, and psi's mean over a group is the
propensity-weighted difference of the arms' means. Either way the mean of psi over any group of
rows is an unbiased estimate of that group's average effect, because e is known exactly.

Definitions (n evaluation rows, ranked by predicted uplift, highest first):

* Qini curve: gain(s) = (1/n) * sum of psi over the top share s of the rows: the extra outcomes
  per user of the whole population (e.g. conversions per user) when only the top s are treated.
  gain(1) is the average effect of treating everyone; random targeting gives the straight line
  s * gain(1). With propensity weights, Radcliffe's Qini curve and the cumulative gain (uplift)
  curve estimate this same quantity, so there is one curve.
* Qini coefficient: the area between the Qini curve and the random line, integral over s of
  gain(s) - s * gain(1). Random targeting scores 0 and a ranking worse than random is negative.
  It is in outcome units per user and does not grow with n, so a perfect ranking of the same
  population scores the same at 5,000 rows and at 500,000 (the rank-weighted average treatment
  effect with Qini weights, RATE-Qini).
* AUUC: the area under the uplift curve, where the uplift curve is the average effect among the
  targeted, gain(s) / s, measured against the average effect of treating everyone: integral over
  s of gain(s) / s - gain(1). Random scores 0; it weights the top of the ranking more than the
  Qini coefficient does (known as the AUTOC).
* Rows with equal predictions are one block: the curve is straight across a block (the expected
  curve over the block's orderings), so a constant prediction scores exactly 0 on both.
* Intervals: percentile bootstrap over evaluation rows (seeded, `bootstrap` resamples): rows, or
  users with a cluster key, are drawn with replacement; the ranking and outcome predictions stay
  fixed. They describe the uncertainty of judging this model on a sample of users, not of
  refitting it.
* Calibration: rows in deciles of predicted uplift (decile 1 = highest; rows with equal
  predictions stay together, so there can be fewer than ten), with counts per arm, the mean
  prediction and the realised uplift (mean psi) with a normal interval.

Promotion (`promotion_verdict`): only when the lower end of the Qini coefficient's interval is
above 0, i.e. the ranking is shown to beat random targeting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.stats import norm

from reengage.learning.uplift.doubly_robust import arm_scores, effect_scores

CURVE_POINTS = 101  # the curve kept on a model card: shares 0, 0.01, ..., 1


@dataclass(frozen=True)
class Interval:
    """A point estimate and its bootstrap interval."""

    estimate: float
    low: float
    high: float

    def to_dict(self) -> dict[str, float]:
        return {"estimate": self.estimate, "low": self.low, "high": self.high}


@dataclass(frozen=True)
class UpliftEvaluation:
    """Qini, AUUC and the average effect with intervals, the curve and the decile calibration."""

    rows: int
    treated_rows: int
    holdout_rows: int
    qini: Interval
    auuc: Interval
    average_effect: Interval  # gain(1): the effect of treating every evaluated user
    curve: pd.DataFrame = field(repr=False)  # share_targeted, gain, random
    calibration: pd.DataFrame = field(repr=False)
    bootstrap_resamples: int
    confidence: float
    seed: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, for a model card."""
        return {
            "rows": self.rows,
            "treated_rows": self.treated_rows,
            "holdout_rows": self.holdout_rows,
            "qini": self.qini.to_dict(),
            "auuc": self.auuc.to_dict(),
            "average_effect": self.average_effect.to_dict(),
            "bootstrap_resamples": self.bootstrap_resamples,
            "confidence": self.confidence,
            "seed": self.seed,
            "calibration_by_decile": self.calibration.to_dict(orient="records"),
            "qini_curve": {
                "share_targeted": self.curve["share_targeted"].round(4).tolist(),
                "gain": self.curve["gain"].round(6).tolist(),
            },
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> UpliftEvaluation:
        """Back from a model card (the curve as rounded there)."""
        curve = pd.DataFrame(data["qini_curve"])
        curve["random"] = curve["share_targeted"] * data["average_effect"]["estimate"]
        return cls(
            rows=int(data["rows"]),
            treated_rows=int(data["treated_rows"]),
            holdout_rows=int(data["holdout_rows"]),
            qini=Interval(**data["qini"]),
            auuc=Interval(**data["auuc"]),
            average_effect=Interval(**data["average_effect"]),
            curve=curve,
            calibration=pd.DataFrame(data["calibration_by_decile"]),
            bootstrap_resamples=int(data["bootstrap_resamples"]),
            confidence=float(data["confidence"]),
            seed=int(data["seed"]),
        )


def row_effect_scores(
    treated: np.ndarray,
    outcome: np.ndarray,
    propensity: np.ndarray,
    mu0: np.ndarray | None = None,
    mu1: np.ndarray | None = None,
    control: np.ndarray | None = None,
    control_propensity: np.ndarray | None = None,
) -> np.ndarray:
    """Each row's doubly robust effect score; without outcome models, each arm's weighted mean.

    `control`, `control_propensity`: the comparison arm and its chance (`doubly_robust`).
    """
    t = np.asarray(treated, dtype="float64")
    y = np.asarray(outcome, dtype="float64")
    e = np.asarray(propensity, dtype="float64")
    if (mu0 is None) != (mu1 is None):
        raise ValueError("give both outcome predictions (mu0 and mu1) or neither")
    if mu0 is None or mu1 is None:
        # With an outcome of 1 and no model, the arm scores are each row's inverse-probability
        # weight in its arm (t / e, c / e0), and the inputs are checked on the way.
        zero = np.zeros_like(y)
        holdout_weight, treated_weight = arm_scores(
            t, np.ones_like(y), e, zero, zero, control, control_propensity
        )
        mu1 = np.full_like(y, _weighted_mean(y, treated_weight))
        mu0 = np.full_like(y, _weighted_mean(y, holdout_weight))
    return effect_scores(t, y, e, mu0, mu1, control, control_propensity)


def _weighted_mean(values: np.ndarray, weights: np.ndarray) -> float:
    total = weights.sum()
    return float((values * weights).sum() / total) if total > 0 else 0.0


@dataclass(frozen=True)
class _Ranking:
    """Rows sorted by prediction (highest first) and the start of each block of equal predictions."""

    order: np.ndarray  # row positions, highest prediction first
    scores: np.ndarray  # psi in ranked order
    block_starts: np.ndarray

    @classmethod
    def of(cls, predicted: np.ndarray, scores: np.ndarray) -> _Ranking:
        predicted = np.asarray(predicted, dtype="float64")
        if len(predicted) != len(scores):
            raise ValueError(f"{len(predicted)} predictions for {len(scores)} rows")
        if len(predicted) == 0:
            raise ValueError("no rows to evaluate")
        if not np.isfinite(predicted).all():
            raise ValueError("predicted uplift must be a finite number on every row")
        order = np.argsort(-predicted, kind="stable")
        ranked = predicted[order]
        starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])
        return cls(order=order, scores=np.asarray(scores, dtype="float64")[order], block_starts=starts)

    def curve(self, counts: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(share, gain) at each block's end, from (0, 0); `counts` = each ranked row's bootstrap weight."""
        weights = np.ones(len(self.scores)) if counts is None else counts.astype("float64")
        n = weights.sum()
        share = np.cumsum(np.add.reduceat(weights, self.block_starts)) / n
        gain = np.cumsum(np.add.reduceat(weights * self.scores, self.block_starts)) / n
        return np.r_[0.0, share], np.r_[0.0, gain]


def qini_coefficient(share: np.ndarray, gain: np.ndarray) -> float:
    """Area between the curve (straight between points) and the random line s * gain(1)."""
    area = np.sum(np.diff(share) * (gain[1:] + gain[:-1]) / 2)
    return float(area - gain[-1] / 2)


def auuc(share: np.ndarray, gain: np.ndarray) -> float:
    """Integral of gain(s) / s - gain(1) over s, exact for a curve straight between points.

    On a segment a -> b with gain = c + m * s, the integral of gain / s is m * (s_b - s_a)
    + c * ln(s_b / s_a); the m terms add up to gain(1) and cancel the random part, leaving the
    intercepts. The first segment starts at (0, 0), so its intercept is 0.
    """
    s_a, s_b, g_a, g_b = share[:-1], share[1:], gain[:-1], gain[1:]
    used = (s_a > 0) & (s_b > s_a)  # skips the first segment and empty bootstrap blocks
    slope = (g_b[used] - g_a[used]) / (s_b[used] - s_a[used])
    intercept = g_a[used] - slope * s_a[used]
    return float(np.sum(intercept * np.log(s_b[used] / s_a[used])))


def qini_of(predicted: np.ndarray, scores: np.ndarray) -> float:
    """The Qini coefficient of a ranking against rows' effect scores (no interval)."""
    return qini_coefficient(*_Ranking.of(predicted, scores).curve())


def qini_curve(predicted: np.ndarray, scores: np.ndarray, points: int = CURVE_POINTS) -> pd.DataFrame:
    """The Qini curve at `points` evenly spaced shares, next to the random line."""
    share, gain = _Ranking.of(predicted, scores).curve()
    grid = np.linspace(0.0, 1.0, points)
    curve = np.interp(grid, share, gain)
    return pd.DataFrame({"share_targeted": grid, "gain": curve, "random": grid * gain[-1]})


def calibration_by_decile(
    predicted: np.ndarray,
    scores: np.ndarray,
    treated: np.ndarray,
    confidence: float = 0.95,
    control: np.ndarray | None = None,
) -> pd.DataFrame:
    """Predicted vs realised uplift per decile of prediction (1 = highest), with counts per arm
    (`control`: the comparison arm's rows; default every row not treated)."""
    predicted = np.asarray(predicted, dtype="float64")
    treated = np.asarray(treated, dtype="float64")
    control = 1 - treated if control is None else np.asarray(control, dtype="float64")
    decile = _deciles(predicted)
    z = float(norm.ppf(0.5 + confidence / 2))
    rows = []
    for group in sorted(set(decile.tolist())):
        members = decile == group
        psi = scores[members]
        realised = float(psi.mean())
        error = float(psi.std(ddof=1) / np.sqrt(len(psi))) if len(psi) > 1 else float("nan")
        rows.append(
            {
                "decile": group,
                "rows": int(members.sum()),
                "treated_rows": int(treated[members].sum()),
                "holdout_rows": int(control[members].sum()),
                "predicted_uplift": float(predicted[members].mean()),
                "realised_uplift": realised,
                "realised_low": realised - z * error,
                "realised_high": realised + z * error,
            }
        )
    return pd.DataFrame(rows)


def _deciles(predicted: np.ndarray) -> np.ndarray:
    """1..k per row (1 = highest predictions); a block of equal predictions goes where its middle falls."""
    n = len(predicted)
    order = np.argsort(-predicted, kind="stable")
    ranked = predicted[order]
    starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])
    ends = np.r_[starts[1:], n]
    middle = np.repeat((starts + ends - 1) / 2, ends - starts)
    raw = np.empty(n, dtype="int64")
    raw[order] = np.floor(10 * middle / n).astype("int64")
    return np.unique(raw, return_inverse=True)[1] + 1  # renumbered 1..k without gaps


def evaluate_uplift(
    predicted: np.ndarray,
    treated: np.ndarray,
    outcome: np.ndarray,
    propensity: np.ndarray,
    *,
    mu0: np.ndarray | None = None,
    mu1: np.ndarray | None = None,
    control: np.ndarray | None = None,
    control_propensity: np.ndarray | None = None,
    bootstrap: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    cluster: ArrayLike | None = None,
) -> UpliftEvaluation:
    """Qini, AUUC and the average effect with bootstrap intervals, the curve and the calibration table.

    With `cluster` (e.g. the user id) the bootstrap draws users, not rows: one user's daily
    decisions move together, and drawing them one by one would make the intervals too narrow.
    """
    if bootstrap < 1:
        raise ValueError(f"bootstrap needs at least 1 resample, got {bootstrap}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    scores = row_effect_scores(treated, outcome, propensity, mu0, mu1, control, control_propensity)
    ranking = _Ranking.of(predicted, scores)
    share, gain = ranking.curve()

    rng = np.random.default_rng(seed)
    n = len(scores)
    # Each ranked row's group: itself, or its cluster; a resample draws groups and counts rows.
    groups = (
        np.arange(n) if cluster is None else pd.factorize(pd.Series(np.asarray(cluster, dtype=object)))[0]
    )
    ranked_groups = groups[ranking.order]
    n_groups = int(groups.max()) + 1
    resampled = np.empty((bootstrap, 3))
    for i in range(bootstrap):
        drawn = np.bincount(rng.integers(0, n_groups, size=n_groups), minlength=n_groups)
        s, g = ranking.curve(drawn[ranked_groups])
        resampled[i] = (qini_coefficient(s, g), auuc(s, g), g[-1])
    tail = (1 - confidence) / 2
    low, high = np.quantile(resampled, [tail, 1 - tail], axis=0)

    def interval(estimate: float, column: int) -> Interval:
        return Interval(float(estimate), float(low[column]), float(high[column]))

    t = np.asarray(treated, dtype="float64")
    c = 1 - t if control is None else np.asarray(control, dtype="float64")
    return UpliftEvaluation(
        rows=n,
        treated_rows=int(t.sum()),
        holdout_rows=int(c.sum()),
        qini=interval(qini_coefficient(share, gain), 0),
        auuc=interval(auuc(share, gain), 1),
        average_effect=interval(gain[-1], 2),
        curve=qini_curve(predicted, scores),
        calibration=calibration_by_decile(predicted, scores, t, confidence, c),
        bootstrap_resamples=bootstrap,
        confidence=confidence,
        seed=seed,
    )


def promotion_verdict(evaluation: UpliftEvaluation) -> tuple[bool, str]:
    """Promote only when the Qini coefficient's interval lies above 0 (random targeting), with why."""
    q = evaluation.qini
    level = f"{evaluation.confidence:.0%}"
    described = f"Qini coefficient {q.estimate:.5f} ({level} interval {q.low:.5f} to {q.high:.5f})"
    if q.low > 0:
        return True, f"{described} is above 0: the ranking targets better than random"
    return False, (
        f"{described} reaches down to {q.low:.5f}, not above 0: the ranking is not shown to "
        "target better than random"
    )
