"""The doubly robust score of one logged decision: the one formula the learner and the policy
estimates share.

A logged row has features x, outcome y and one of three fates, each drawn with a known chance:

- treated (t = 1), with probability e: its message was sent;
- control (c = 1), with probability e0: a draw held it back from the campaign for good (a
  holdout), so nothing of the campaign reached the user in the row's window;
- neither (t = c = 0): it was not sent today but may be tomorrow, inside today's window (a
  targeting that did not draw it). Its outcome mixes "not now" with "later", so it stands for
  no arm; it counts through the outcome models alone.

Given outcome models mu1(x) (if sent) and mu0(x) (if held back for good):

    psi = mu1 - mu0 + t * (y - mu1) / e - c * (y - mu0) / e0

Its mean over rows is an unbiased estimate of the average effect of a message against none
whenever e and e0 are the true chances (however wrong mu0 and mu1 are), and a consistent one
whenever the outcome models are right. The logged chances of a randomized decision are known
exactly (hashes draw from them), so the first condition holds by design; the outcome models only
reduce variance. Where every row not sent was held back for good (c = 1 - t, e0 = 1 - e, the
default) this is the familiar two-arm score. The two halves, one per arm, are the scores of
"treat" and "do not treat":

    gamma1 = mu1 + t * (y - mu1) / e          gamma0 = mu0 + c * (y - mu0) / e0
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

# Chances are products of shares; their sum may exceed 1 by rounding only.
_TOLERANCE = 1e-9


def comparison_arm(
    treated: ArrayLike, propensity: ArrayLike, control: ArrayLike | None, control_propensity: ArrayLike | None
) -> tuple[np.ndarray, np.ndarray]:
    """(c, e0): the control indicator and its chance, defaulting to every row not treated (1 - t, 1 - e)."""
    if (control is None) != (control_propensity is None):
        raise ValueError("give both control and control_propensity, or neither")
    t = np.asarray(treated, dtype=np.float64)
    if control is None or control_propensity is None:
        return 1.0 - t, 1.0 - np.asarray(propensity, dtype=np.float64)
    return np.asarray(control, dtype=np.float64), np.asarray(control_propensity, dtype=np.float64)


def _checked(
    treated: ArrayLike,
    outcome: ArrayLike,
    propensity: ArrayLike,
    mu0: ArrayLike,
    mu1: ArrayLike,
    control: ArrayLike | None,
    control_propensity: ArrayLike | None,
) -> tuple[np.ndarray, ...]:
    c, e0 = comparison_arm(treated, propensity, control, control_propensity)
    arrays = [np.asarray(a, dtype=np.float64) for a in (treated, outcome, propensity, mu0, mu1)] + [c, e0]
    lengths = {len(a) for a in arrays}
    if len(lengths) != 1:
        raise ValueError(
            f"treated, outcome, propensity, mu0, mu1 and the control arm differ in length: {sorted(lengths)}"
        )
    t, _, e, _, _, c, e0 = arrays
    if not np.isin(t, (0.0, 1.0)).all() or not np.isin(c, (0.0, 1.0)).all():
        raise ValueError("treated and control must be 0 or 1 on every row")
    if (t + c > 1).any():
        raise ValueError("a row cannot be both treated and a control")
    if not ((e > 0) & (e < 1)).all():
        # A row treated (or left alone) for certain says nothing about the other arm.
        raise ValueError("propensity must be strictly between 0 and 1 on every row")
    if not ((e0 > 0) & (e + e0 <= 1 + _TOLERANCE)).all():
        raise ValueError("control propensity must be above 0 and at most 1 - propensity on every row")
    return tuple(arrays)


def arm_scores(
    treated: ArrayLike,
    outcome: ArrayLike,
    propensity: ArrayLike,
    mu0: ArrayLike,
    mu1: ArrayLike,
    control: ArrayLike | None = None,
    control_propensity: ArrayLike | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(gamma0, gamma1): each row's doubly robust score of not treating and of treating it."""
    t, y, e, m0, m1, c, e0 = _checked(treated, outcome, propensity, mu0, mu1, control, control_propensity)
    gamma1 = m1 + t * (y - m1) / e
    gamma0 = m0 + c * (y - m0) / e0
    return gamma0, gamma1


def effect_scores(
    treated: ArrayLike,
    outcome: ArrayLike,
    propensity: ArrayLike,
    mu0: ArrayLike,
    mu1: ArrayLike,
    control: ArrayLike | None = None,
    control_propensity: ArrayLike | None = None,
) -> np.ndarray:
    """psi = gamma1 - gamma0 per row: the doubly robust pseudo-outcome of the row's effect."""
    gamma0, gamma1 = arm_scores(treated, outcome, propensity, mu0, mu1, control, control_propensity)
    return gamma1 - gamma0
