"""The doubly robust score of one logged decision: the one formula the learner and the policy
estimates share.

For a row with features x, treatment t (1 sent, 0 not), outcome y and the probability e with
which it was treated, given outcome models mu1(x) and mu0(x):

    psi = mu1 - mu0 + t * (y - mu1) / e - (1 - t) * (y - mu0) / (1 - e)

Its mean over rows is an unbiased estimate of the average effect of treating them whenever e is
the true assignment probability (however wrong mu0 and mu1 are), and a consistent one whenever
the outcome models are right. The logged e of a randomized decision is known exactly (a hash
draws from it), so the first condition holds by design; the outcome models only reduce variance.
The two halves, one per arm, are the scores of "treat" and "do not treat":

    gamma1 = mu1 + t * (y - mu1) / e          gamma0 = mu0 + (1 - t) * (y - mu0) / (1 - e)
"""

from __future__ import annotations

import numpy as np


def _checked(
    treated: np.ndarray, outcome: np.ndarray, propensity: np.ndarray, mu0: np.ndarray, mu1: np.ndarray
) -> tuple[np.ndarray, ...]:
    arrays = [np.asarray(a, dtype=np.float64) for a in (treated, outcome, propensity, mu0, mu1)]
    lengths = {len(a) for a in arrays}
    if len(lengths) != 1:
        raise ValueError(f"treated, outcome, propensity, mu0 and mu1 differ in length: {sorted(lengths)}")
    t, _, e, _, _ = arrays
    if not np.isin(t, (0.0, 1.0)).all():
        raise ValueError("treated must be 0 or 1 on every row")
    if not ((e > 0) & (e < 1)).all():
        # A row treated (or left alone) for certain says nothing about the other arm.
        raise ValueError("propensity must be strictly between 0 and 1 on every row")
    return tuple(arrays)


def arm_scores(
    treated: np.ndarray, outcome: np.ndarray, propensity: np.ndarray, mu0: np.ndarray, mu1: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(gamma0, gamma1): each row's doubly robust score of not treating and of treating it."""
    t, y, e, m0, m1 = _checked(treated, outcome, propensity, mu0, mu1)
    gamma1 = m1 + t * (y - m1) / e
    gamma0 = m0 + (1 - t) * (y - m0) / (1 - e)
    return gamma0, gamma1


def effect_scores(
    treated: np.ndarray, outcome: np.ndarray, propensity: np.ndarray, mu0: np.ndarray, mu1: np.ndarray
) -> np.ndarray:
    """psi = gamma1 - gamma0 per row: the doubly robust pseudo-outcome of the row's effect."""
    gamma0, gamma1 = arm_scores(treated, outcome, propensity, mu0, mu1)
    return gamma1 - gamma0
