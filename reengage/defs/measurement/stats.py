"""Experiment statistics, pure functions over counts and arrays.

The standard tests and intervals come from statsmodels and scipy, which the statistics
community maintains and checks; this module only adapts their answers to the report's
conventions (NaN where a quantity is undefined). The sequential test and CUPED, which those
libraries do not offer in this form, are written out here.

Every test treats its observations as independent units: the measurement passes one per
user (a user assigned on several days is still one observation). Conventions: arm ``a`` is
the baseline (holdout or control variant), arm ``b`` the treatment; a lift is ``b - a``
(absolute) or ``b / a - 1`` (relative). Every interval is two-sided at ``1 - alpha``.

- :func:`two_proportion_test`  z-test (pooled SE for the p-value, Newcombe's score CI for
  the difference, Katz log CI for the ratio)
- :func:`welch_test`           Welch's t-test and CI for a difference in means (revenue)
- :func:`prob_b_beats_a`       Beta-binomial posterior P(p_b > p_a), exact closed form
- :func:`srm_test`             sample-ratio-mismatch chi-square of units against planned shares
  (exact multinomial tail when an expected count is under 5)
- :func:`benjamini_hochberg`   BH-adjusted p-values (step-up, monotone)
- :func:`msprt`                mixture SPRT for a difference of proportions (normal
  approximation): always-valid p-value and confidence sequence, valid when looked
  at every day (Johari, Pekelis & Walsh 2017)
- :func:`cuped`                CUPED variance reduction with a pre-period covariate
- :func:`power_two_proportions`, :func:`sample_size_two_proportions`,
  :func:`mde_two_proportions`  planning (Cohen's h, normal approximation, the same
  convention as statsmodels' ``NormalIndPower``)
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special, stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

# --- two proportions ---------------------------------------------------------------------


@dataclass(frozen=True)
class ProportionTest:
    n_a: int
    x_a: int
    n_b: int
    x_b: int
    rate_a: float
    rate_b: float
    abs_lift: float
    abs_ci_low: float
    abs_ci_high: float
    rel_lift: float
    rel_ci_low: float
    rel_ci_high: float
    z: float
    p_value: float


def two_proportion_test(x_a: int, n_a: int, x_b: int, n_b: int, alpha: float = 0.05) -> ProportionTest:
    """Two-sided z-test of p_b = p_a with CIs for the absolute and relative lift.

    The p-value uses the pooled standard error (as ``statsmodels.proportions_ztest``),
    the absolute CI Newcombe's hybrid score interval (from each arm's Wilson interval) and
    the relative CI the log ratio (Katz), as
    ``statsmodels.confint_proportions_2indep(method="newcomb"|"log")``. Newcombe rather than
    Wald because re-engagement arms are often small with few conversions: with 0 of 4
    converted the Wald interval has zero width and never covers a true lift, while
    Newcombe's stays near its 95% in small arms. Undefined quantities (an empty arm,
    zero successes for the ratio) are NaN.
    """
    nan = float("nan")
    if n_a <= 0 or n_b <= 0:
        return ProportionTest(n_a, x_a, n_b, x_b, nan, nan, nan, nan, nan, nan, nan, nan, nan, nan)
    pa, pb = x_a / n_a, x_b / n_b
    diff = pb - pa
    pooled = (x_a + x_b) / (n_a + n_b)
    se0 = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    if se0 > 0:  # the same statistic as statsmodels' proportions_ztest, without its 0/0 warning
        z = diff / se0
        p = float(2 * stats.norm.sf(abs(z)))
    else:
        z, p = 0.0, 1.0
    lo, hi = confint_proportions_2indep(x_b, n_b, x_a, n_a, method="newcomb", compare="diff", alpha=alpha)
    if x_a > 0 and x_b > 0:
        rlo, rhi = confint_proportions_2indep(x_b, n_b, x_a, n_a, method="log", compare="ratio", alpha=alpha)
        rel, rlo, rhi = pb / pa - 1, rlo - 1, rhi - 1
    else:
        rel = (pb / pa - 1) if x_a > 0 else nan
        rlo = rhi = nan
    return ProportionTest(
        n_a, x_a, n_b, x_b, pa, pb, diff, float(lo), float(hi), rel, float(rlo), float(rhi), float(z), p
    )


def wilson_interval(x: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Wilson score interval for one proportion (as statsmodels ``proportion_confint(method="wilson")``)."""
    if n <= 0:
        return float("nan"), float("nan")
    low, high = proportion_confint(x, n, alpha=alpha, method="wilson")
    return float(low), float(high)


# --- means (revenue) ---------------------------------------------------------------------


@dataclass(frozen=True)
class MeanTest:
    mean_a: float
    mean_b: float
    diff: float
    ci_low: float
    ci_high: float
    t: float
    df: float
    p_value: float
    rel_lift: float


def welch_test(
    a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, alpha: float = 0.05
) -> MeanTest:
    """Welch's unequal-variance t-test of mean(b) = mean(a), with the Welch-Satterthwaite CI."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    nan = float("nan")
    if len(a) < 2 or len(b) < 2:
        ma = float(a.mean()) if len(a) else nan
        mb = float(b.mean()) if len(b) else nan
        return MeanTest(ma, mb, mb - ma, nan, nan, nan, nan, nan, nan)
    ma, mb = float(a.mean()), float(b.mean())
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    diff = mb - ma
    se = math.sqrt(va + vb)
    rel = diff / ma if ma else nan
    if se == 0:
        return MeanTest(ma, mb, diff, diff, diff, nan, nan, 1.0 if diff == 0 else 0.0, rel)
    test = stats.ttest_ind(b, a, equal_var=False)
    ci = test.confidence_interval(1 - alpha)
    t, df, p = float(test.statistic), float(test.df), float(test.pvalue)
    return MeanTest(ma, mb, diff, float(ci.low), float(ci.high), t, df, p, rel)


# --- Bayesian ----------------------------------------------------------------------------


def prob_b_beats_a(
    x_a: int, n_a: int, x_b: int, n_b: int, prior_alpha: float = 1.0, prior_beta: float = 1.0
) -> float:
    """P(p_b > p_a) under independent Beta(prior + successes, prior + failures) posteriors.

    Exact for integer posterior parameters (Evan Miller's sum over the first posterior
    shape of b, computed in log space); otherwise a Gauss-Legendre integral.
    """
    a1, b1 = prior_alpha + x_a, prior_beta + n_a - x_a
    a2, b2 = prior_alpha + x_b, prior_beta + n_b - x_b
    if float(a2).is_integer() and a2 <= 1_000_000:
        i = np.arange(int(a2), dtype=float)
        logs = (
            special.betaln(a1 + i, b1 + b2)
            - np.log(b2 + i)
            - special.betaln(1 + i, b2)
            - special.betaln(a1, b1)
        )
        return float(np.clip(np.exp(special.logsumexp(logs)), 0.0, 1.0))
    nodes, weights = np.polynomial.legendre.leggauss(400)
    x = (nodes + 1) / 2
    return float(np.clip(np.sum(weights / 2 * stats.beta.pdf(x, a2, b2) * stats.beta.cdf(x, a1, b1)), 0, 1))


# --- sample ratio mismatch -----------------------------------------------------------------


@dataclass(frozen=True)
class SrmTest:
    chi2: float
    p_value: float
    mismatch: bool


# Cochran's rule: the chi-square distribution approximates Pearson's statistic only when every
# expected count is at least 5. Below it (a new campaign, a small cohort, a 5% holdout) the
# approximation overstates rare outcomes by orders of magnitude: 3 of 4 users in a 10%
# holdout gives an asymptotic p of 0.00008 where the true chance is 0.004.
EXACT_BELOW_EXPECTED = 5.0
# The exact tail sums over every way to place n units in k cells; past this many ways it is
# simulated instead (a fixed seed, so a rerun of a day reads the same p-value).
EXACT_MAX_OUTCOMES = 300_000
SIMULATED_DRAWS = 199_999
SIMULATION_SEED = 20_170_613


def srm_test(observed: Sequence[int], expected_shares: Sequence[float], threshold: float = 0.001) -> SrmTest:
    """Pearson chi-square of observed cell counts against planned shares (normalised to 1).

    The p-value is the chance, under the planned shares, of a statistic at least as large as
    the one observed: from the chi-square distribution when every expected count is at least
    :data:`EXACT_BELOW_EXPECTED`, otherwise from the multinomial distribution itself (summed
    exactly over every outcome, or from a seeded simulation when there are too many). A
    p-value below ``threshold`` (0.001 by convention: SRM checks run often) flags a mismatch.
    """
    obs = np.asarray(observed, dtype=float)
    shares = np.asarray(expected_shares, dtype=float)
    keep = shares > 0
    if obs[~keep].sum() > 0:  # a cell that should be empty is not
        return SrmTest(float("inf"), 0.0, True)
    obs, shares = obs[keep], shares[keep] / shares[keep].sum()
    n = int(obs.sum())
    if len(obs) < 2 or n == 0:
        return SrmTest(0.0, 1.0, False)
    if (shares * n).min() >= EXACT_BELOW_EXPECTED:
        chi2, p = stats.chisquare(obs, shares * n)
        return SrmTest(float(chi2), float(p), float(p) < threshold)
    chi2 = float(_pearson(obs, shares, n))
    if math.comb(n + len(obs) - 1, len(obs) - 1) <= EXACT_MAX_OUTCOMES:
        p = exact_multinomial_p(obs.astype(int), shares)
    else:
        p = simulated_multinomial_p(obs.astype(int), shares)
    return SrmTest(chi2, p, p < threshold)


def _pearson(counts: np.ndarray, shares: np.ndarray, n: int) -> np.ndarray:
    expected = shares * n
    return (((counts - expected) ** 2) / expected).sum(axis=-1)


def _at_least(stat: np.ndarray, observed: float) -> np.ndarray:
    # Outcomes tied with the observed one count as "as extreme"; the tolerance keeps a tie
    # computed in a different order from falling out by one ulp.
    return stat >= observed - 1e-9 * max(1.0, abs(observed))


def exact_multinomial_p(observed: Sequence[int], shares: Sequence[float]) -> float:
    """P(Pearson statistic >= observed) under Multinomial(n, shares), summed over every outcome."""
    obs, p = np.asarray(observed, dtype=int), np.asarray(shares, dtype=float)
    n, k = int(obs.sum()), len(obs)
    outcomes = _compositions(n, k)
    stat = _pearson(outcomes, p, n)
    prob = stats.multinomial(n, p).pmf(outcomes)
    tail = prob[_at_least(stat, float(_pearson(obs, p, n)))].sum()
    return float(min(1.0, tail))


def simulated_multinomial_p(observed: Sequence[int], shares: Sequence[float]) -> float:
    """The same tail from SIMULATED_DRAWS seeded draws: (1 + draws at least as extreme) / (draws + 1)."""
    obs, p = np.asarray(observed, dtype=int), np.asarray(shares, dtype=float)
    n = int(obs.sum())
    draws = np.random.default_rng(SIMULATION_SEED).multinomial(n, p, size=SIMULATED_DRAWS)
    extreme = int(_at_least(_pearson(draws, p, n), float(_pearson(obs, p, n))).sum())
    return (1 + extreme) / (SIMULATED_DRAWS + 1)


def _compositions(n: int, k: int) -> np.ndarray:
    """Every way to put n units in k cells, a row each (stars and bars: k - 1 bars in n + k - 1 places)."""
    bars = np.array(list(itertools.combinations(range(n + k - 1), k - 1)), dtype=np.int64).reshape(-1, k - 1)
    edges = np.hstack([np.full((len(bars), 1), -1), bars, np.full((len(bars), 1), n + k - 1)])
    return np.diff(edges, axis=1) - 1


# --- multiple comparisons ------------------------------------------------------------------


def benjamini_hochberg(p_values: Sequence[float]) -> np.ndarray:
    """BH step-up adjusted p-values (NaN stays NaN and does not count as a test)."""
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    if not ok.any():
        return out
    out[ok] = multipletests(p[ok], method="fdr_bh")[1]
    return out


# --- always-valid sequential test ------------------------------------------------------------


@dataclass(frozen=True)
class MsprtLook:
    diff: float
    variance: float
    likelihood_ratio: float
    p_value: float  # always-valid p-value at this look (not yet minimised over earlier looks)
    cs_low: float  # confidence sequence at this look
    cs_high: float


def msprt(x_a: float, n_a: float, x_b: float, n_b: float, tau: float, alpha: float = 0.05) -> MsprtLook:
    """Mixture SPRT for theta = p_b - p_a with a N(0, tau^2) mixing distribution.

    With the difference estimate d ~ N(theta, V) the mixture
    likelihood ratio against theta = 0 is
    ``sqrt(V / (V + tau^2)) * exp(tau^2 d^2 / (2 V (V + tau^2)))``. Rejecting the first
    time it reaches 1/alpha, and reporting the running minimum of ``min(1, 1/LR)`` as
    the p-value, keeps the type-I error at alpha however often one looks. The matching
    confidence sequence is the set of theta whose ratio stays below 1/alpha.
    ``tau`` should be of the order of the effects one hopes to detect.
    """
    nan = float("nan")
    if n_a <= 0 or n_b <= 0:
        return MsprtLook(nan, nan, 1.0, 1.0, nan, nan)
    pa, pb = x_a / n_a, x_b / n_b
    d = pb - pa
    # The larger of the unpooled and the pooled (null) variance: with few conversions in a small
    # arm the unpooled estimate can be near zero and the ratio explodes; the pooled one cannot.
    pooled = (x_a + x_b + 0.5) / (n_a + n_b + 1)
    v = max(pa * (1 - pa) / n_a + pb * (1 - pb) / n_b, pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    t2 = tau * tau
    log_lr = 0.5 * math.log(v / (v + t2)) + t2 * d * d / (2 * v * (v + t2))
    lr = math.exp(min(log_lr, 700.0))
    half = math.sqrt(v * (v + t2) / t2 * (2 * math.log(1 / alpha) + math.log((v + t2) / v)))
    return MsprtLook(d, v, lr, min(1.0, 1.0 / lr), d - half, d + half)


@dataclass(frozen=True)
class SequentialResult:
    looks: int
    p_value: float  # running minimum over looks
    cs_low: float  # intersection of the confidence sequences over looks
    cs_high: float
    rejected: bool
    first_rejection_look: int | None
    last: MsprtLook | None


def msprt_path(
    counts: Sequence[tuple[int, int, int, int]], tau: float, alpha: float = 0.05
) -> SequentialResult:
    """Run :func:`msprt` over cumulative ``(x_a, n_a, x_b, n_b)`` at each look, in order."""
    p, lo, hi, first, last = 1.0, -math.inf, math.inf, None, None
    for k, (x_a, n_a, x_b, n_b) in enumerate(counts):
        look = msprt(x_a, n_a, x_b, n_b, tau=tau, alpha=alpha)
        if n_a <= 0 or n_b <= 0:
            continue
        last = look
        p = min(p, look.p_value)
        lo, hi = max(lo, look.cs_low), min(hi, look.cs_high)
        if first is None and look.p_value <= alpha:
            first = k
    if last is None:
        return SequentialResult(len(counts), 1.0, float("nan"), float("nan"), False, None, None)
    return SequentialResult(len(counts), p, lo, hi, first is not None, first, last)


def users_to_decide(
    x_a: int, n_a: int, x_b: int, n_b: int, tau: float, alpha: float = 0.05, most: float = 10.0
) -> float | None:
    """How many times today's users the mSPRT needs to decide, if both rates stay what they are now.

    The answer to "how much longer?" for a test that has not decided: both arms grow by the same
    factor with the same rates, and the factor is the smallest at which the always-valid p-value
    reaches alpha. None when even `most` times the users would not do (the lift so far is too small
    to settle soon), or when an arm is empty or the rates are equal.
    """
    if n_a <= 0 or n_b <= 0 or x_a * n_b == x_b * n_a:
        return None

    def decides(k: float) -> bool:
        # Unrounded counts: the ratio then grows with k once it is past 1/alpha, so the search is exact.
        return msprt(k * x_a, k * n_a, k * x_b, k * n_b, tau, alpha).p_value <= alpha

    if decides(1.0):
        return 1.0
    if not decides(most):
        return None
    low, high = 1.0, most
    while high - low > 0.01:
        middle = (low + high) / 2
        low, high = (low, middle) if decides(middle) else (middle, high)
    return high


# --- CUPED ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CupedResult:
    theta: float
    adjusted_a: np.ndarray
    adjusted_b: np.ndarray
    variance_reduction: float  # 1 - var(Y_adj) / var(Y), pooled
    test: MeanTest


def cuped(
    y_a: np.ndarray, x_a: np.ndarray, y_b: np.ndarray, x_b: np.ndarray, alpha: float = 0.05
) -> CupedResult:
    """CUPED (Deng et al. 2013): Y - theta (X - mean X), theta = cov(Y, X) / var(X) pooled over arms.

    X is a pre-period covariate (e.g. active days in the 28 days before assignment),
    unaffected by the treatment, so the adjusted difference stays unbiased while its
    variance shrinks by the squared correlation of X and Y.
    """
    y_a, x_a, y_b, x_b = (np.asarray(v, dtype=float) for v in (y_a, x_a, y_b, x_b))
    y = np.concatenate([y_a, y_b])
    x = np.concatenate([x_a, x_b])
    vx = x.var(ddof=1) if len(x) > 1 else 0.0
    theta = float(np.cov(y, x, ddof=1)[0, 1] / vx) if vx > 0 else 0.0
    mx = x.mean() if len(x) else 0.0
    adj_a, adj_b = y_a - theta * (x_a - mx), y_b - theta * (x_b - mx)
    vy = y.var(ddof=1) if len(y) > 1 else 0.0
    adj = np.concatenate([adj_a, adj_b])
    reduction = float(1 - adj.var(ddof=1) / vy) if vy > 0 else 0.0
    return CupedResult(theta, adj_a, adj_b, reduction, welch_test(adj_a, adj_b, alpha=alpha))


# --- planning --------------------------------------------------------------------------------


def cohens_h(p_treatment: float, p_control: float) -> float:
    return 2 * math.asin(math.sqrt(p_treatment)) - 2 * math.asin(math.sqrt(p_control))


def power_two_proportions(
    p_control: float, p_treatment: float, n_control: float, n_treatment: float, alpha: float = 0.05
) -> float:
    """Power of the two-sided two-proportion test (normal approximation on Cohen's h)."""
    h = abs(cohens_h(p_treatment, p_control))
    return float(NormalIndPower().power(h, nobs1=n_treatment, alpha=alpha, ratio=n_control / n_treatment))


def sample_size_two_proportions(
    p_control: float, p_treatment: float, alpha: float = 0.05, power: float = 0.8, ratio: float = 1.0
) -> float:
    """Control-arm size so that the test has `power`; the treatment arm is `ratio` times it."""
    return float(
        optimize.brentq(
            lambda n: power_two_proportions(p_control, p_treatment, n, ratio * n, alpha) - power, 1e-6, 1e12
        )
    )


def mde_two_proportions(
    p_control: float, n_control: float, n_treatment: float, alpha: float = 0.05, power: float = 0.8
) -> float:
    """Smallest absolute lift p_t - p_c (upwards) detectable with `power` at these arm sizes."""
    if power_two_proportions(p_control, 1 - 1e-12, n_control, n_treatment, alpha) < power:
        return float("nan")
    return float(
        optimize.brentq(
            lambda pt: power_two_proportions(p_control, pt, n_control, n_treatment, alpha) - power,
            p_control + 1e-12,
            1 - 1e-12,
        )
        - p_control
    )


def holdout_plan(
    eligible_per_day: float,
    holdout_share: float,
    baseline_rate: float,
    days: int,
    alpha: float = 0.05,
    power: float = 0.8,
) -> dict[str, float]:
    """MDE of treatment vs holdout after `days` of a campaign with this holdout share.

    `eligible_per_day`: users entering the campaign per day (first assignments), not daily
    assignments: a user assigned again adds no observation.
    """
    n = eligible_per_day * days
    n_h, n_t = n * holdout_share, n * (1 - holdout_share)
    mde = mde_two_proportions(baseline_rate, n_h, n_t, alpha, power) if n_h > 0 and n_t > 0 else float("nan")
    return {
        "holdout_share": holdout_share,
        "days": days,
        "n_holdout": n_h,
        "n_treatment": n_t,
        "mde_abs": mde,
        "mde_rel": mde / baseline_rate if baseline_rate else float("nan"),
    }
