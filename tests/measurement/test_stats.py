"""Each statistic against an established implementation (statsmodels or scipy) on fixed scenarios."""

from __future__ import annotations

import math

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import integrate, stats
from statsmodels.regression.linear_model import OLS
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_confint,
    proportion_effectsize,
    proportions_ztest,
)

from reengage.defs.measurement import stats as st

SCENARIOS = [(120, 2_000, 151, 2_100), (30, 400, 45, 380), (5, 900, 9, 8_100), (1_800, 60_000, 1_950, 60_500)]


@pytest.mark.parametrize(("x_a", "n_a", "x_b", "n_b"), SCENARIOS)
def test_two_proportion_test_matches_statsmodels(x_a, n_a, x_b, n_b) -> None:
    r = st.two_proportion_test(x_a, n_a, x_b, n_b)
    z, p = proportions_ztest([x_b, x_a], [n_b, n_a])
    assert r.z == pytest.approx(z, rel=1e-10)
    assert r.p_value == pytest.approx(p, rel=1e-10)
    lo, hi = confint_proportions_2indep(x_b, n_b, x_a, n_a, method="newcomb", compare="diff")
    assert (r.abs_ci_low, r.abs_ci_high) == pytest.approx((lo, hi), rel=1e-10)
    lo, hi = confint_proportions_2indep(x_b, n_b, x_a, n_a, method="log", compare="ratio")
    assert (r.rel_ci_low, r.rel_ci_high) == pytest.approx((lo - 1, hi - 1), rel=1e-9)
    assert r.abs_lift == pytest.approx(x_b / n_b - x_a / n_a)


@pytest.mark.parametrize(("x_a", "n_a", "x_b", "n_b"), [(0, 4, 3, 50), (4, 4, 0, 7), (0, 12, 0, 30)])
def test_small_arms_get_newcombe_intervals_of_real_width(x_a, n_a, x_b, n_b) -> None:
    # A holdout of 4 users none of whom converted: the Wald interval had zero width there.
    r = st.two_proportion_test(x_a, n_a, x_b, n_b)
    lo, hi = confint_proportions_2indep(x_b, n_b, x_a, n_a, method="newcomb", compare="diff")
    assert (r.abs_ci_low, r.abs_ci_high) == pytest.approx((lo, hi), rel=1e-10, abs=1e-12)
    assert r.abs_ci_high - r.abs_ci_low > 0.2


def test_two_proportion_test_degenerate_arms() -> None:
    assert math.isnan(st.two_proportion_test(0, 0, 3, 10).p_value)
    r = st.two_proportion_test(0, 100, 0, 100)
    assert r.p_value == 1.0 and math.isnan(r.rel_ci_low)


def test_wilson_matches_statsmodels() -> None:
    assert st.wilson_interval(7, 300) == pytest.approx(proportion_confint(7, 300, method="wilson"), rel=1e-10)


def test_welch_matches_scipy() -> None:
    rng = np.random.default_rng(3)
    a = rng.exponential(20, 500) * (rng.random(500) < 0.1)
    b = rng.exponential(25, 450) * (rng.random(450) < 0.12)
    r = st.welch_test(a, b)
    ref = stats.ttest_ind(b, a, equal_var=False)
    ci = ref.confidence_interval(0.95)
    assert r.t == pytest.approx(ref.statistic, rel=1e-10)
    assert r.p_value == pytest.approx(ref.pvalue, rel=1e-10)
    assert r.df == pytest.approx(ref.df, rel=1e-10)
    assert (r.ci_low, r.ci_high) == pytest.approx((ci.low, ci.high), rel=1e-10)


@pytest.mark.parametrize(
    ("x_a", "n_a", "x_b", "n_b"), [(120, 2_000, 151, 2_100), (3, 40, 4, 38), (50, 100, 45, 100)]
)
def test_prob_to_beat_matches_numerical_integration(x_a, n_a, x_b, n_b) -> None:
    a = stats.beta(1 + x_a, 1 + n_a - x_a)
    b = stats.beta(1 + x_b, 1 + n_b - x_b)
    ref, _ = integrate.quad(lambda p: b.pdf(p) * a.cdf(p), 0, 1, limit=500, points=[x_a / n_a, x_b / n_b])
    assert st.prob_b_beats_a(x_a, n_a, x_b, n_b) == pytest.approx(ref, abs=1e-7)
    # non-integer prior: quadrature branch
    a2 = stats.beta(0.5 + x_a, 0.5 + n_a - x_a)
    b2 = stats.beta(0.5 + x_b, 0.5 + n_b - x_b)
    ref2, _ = integrate.quad(lambda p: b2.pdf(p) * a2.cdf(p), 0, 1, limit=500, points=[x_a / n_a, x_b / n_b])
    assert st.prob_b_beats_a(x_a, n_a, x_b, n_b, 0.5, 0.5) == pytest.approx(ref2, abs=1e-6)


def test_prob_to_beat_is_symmetric_and_monte_carlo_close() -> None:
    p = st.prob_b_beats_a(80, 1000, 100, 1000)
    assert p + st.prob_b_beats_a(100, 1000, 80, 1000) == pytest.approx(1.0, abs=1e-9)
    rng = np.random.default_rng(0)
    mc = np.mean(rng.beta(101, 901, 400_000) > rng.beta(81, 921, 400_000))
    assert p == pytest.approx(mc, abs=3e-3)


def test_srm_matches_scipy_chisquare() -> None:
    obs = [4_520, 4_610, 1_020]
    shares = [0.45, 0.45, 0.10]
    r = st.srm_test(obs, shares)
    ref = stats.chisquare(obs, np.array(shares) * sum(obs))
    assert r.chi2 == pytest.approx(ref.statistic) and r.p_value == pytest.approx(ref.pvalue)
    assert not r.mismatch
    assert st.srm_test([5_000, 4_000, 1_000], shares).mismatch
    assert st.srm_test([10, 0, 3], [0.5, 0.0, 0.5]).mismatch is False
    assert st.srm_test([10, 2, 3], [0.5, 0.0, 0.5]).mismatch


def test_srm_with_small_expected_counts_is_judged_by_the_exact_multinomial_tail() -> None:
    # 4 users, 10% holdout on two variants: 3 in the holdout. The chi-square approximation
    # says p = 0.00008 (a mismatch); the true chance of 3 or more of 4 in a 10% arm is 0.0037.
    small = st.srm_test([2, 0, 1, 1], [0.05, 0.45, 0.05, 0.45])
    assert stats.chisquare([2, 0, 1, 1], np.array([0.05, 0.45, 0.05, 0.45]) * 4).pvalue < 0.001
    assert small.p_value == pytest.approx(4 * 0.1**3 * 0.9 + 0.1**4, rel=1e-12)
    assert not small.mismatch
    assert st.srm_test([4, 0, 0, 0, 0], [0.01, 0.2, 0.2, 0.29, 0.3]).mismatch  # p = 1e-8


@pytest.mark.parametrize(
    ("x", "n", "share"), [(3, 4, 0.1), (0, 30, 0.1), (9, 30, 0.1), (1, 12, 0.3), (20, 40, 0.05)]
)
def test_exact_srm_on_two_cells_is_the_binomial_tail_by_distance_from_expected(x, n, share) -> None:
    # Two cells: a Pearson statistic at least the observed one is |X - n*share| >= |x - n*share|.
    k = np.arange(n + 1)
    far = np.abs(k - n * share) >= abs(x - n * share) - 1e-9
    reference = stats.binom.pmf(k[far], n, share).sum()
    assert st.srm_test([x, n - x], [share, 1 - share]).p_value == pytest.approx(
        min(1.0, reference), rel=1e-10
    )


def test_simulated_srm_agrees_with_the_exact_tail_and_is_seeded() -> None:
    obs, shares = [3, 9, 2, 16], [0.05, 0.3, 0.15, 0.5]
    exact = st.exact_multinomial_p(obs, shares)
    simulated = st.simulated_multinomial_p(obs, shares)
    assert simulated == pytest.approx(exact, abs=4 * math.sqrt(exact * (1 - exact) / st.SIMULATED_DRAWS))
    assert simulated == st.simulated_multinomial_p(obs, shares)
    # Too many outcomes to sum (n = 5,000 in 3 cells): the simulated tail is used and still judges.
    assert st.srm_test([40, 400, 4_560], [0.001, 0.099, 0.9]).mismatch
    assert not st.srm_test([4, 500, 4_496], [0.001, 0.099, 0.9]).mismatch


def test_benjamini_hochberg_matches_statsmodels() -> None:
    p = np.array([0.001, 0.04, 0.03, 0.2, 0.012, 0.9, 0.049, 0.0001])
    assert st.benjamini_hochberg(p) == pytest.approx(multipletests(p, method="fdr_bh")[1], rel=1e-12)
    with_nan = st.benjamini_hochberg([0.01, float("nan"), 0.04])
    assert math.isnan(with_nan[1])
    assert with_nan[[0, 2]] == pytest.approx(multipletests([0.01, 0.04], method="fdr_bh")[1])


def test_msprt_likelihood_ratio_matches_the_integral_of_the_mixture() -> None:
    x_a, n_a, x_b, n_b, tau = 120, 2_000, 160, 2_000, 0.02
    look = st.msprt(x_a, n_a, x_b, n_b, tau=tau)
    d, v = look.diff, look.variance
    num, _ = integrate.quad(
        lambda th: stats.norm.pdf(d, th, math.sqrt(v)) * stats.norm.pdf(th, 0, tau), -1, 1, points=[0, d]
    )
    assert look.likelihood_ratio == pytest.approx(num / stats.norm.pdf(d, 0, math.sqrt(v)), rel=1e-7)
    # the confidence sequence is exactly the set of theta whose shifted ratio is below 1/alpha
    for edge in (look.cs_low, look.cs_high):
        lr = math.sqrt(v / (v + tau**2)) * math.exp(tau**2 * (d - edge) ** 2 / (2 * v * (v + tau**2)))
        assert lr == pytest.approx(1 / 0.05, rel=1e-9)
    # it is wider than the fixed-horizon interval (the price of peeking)
    fixed = st.two_proportion_test(x_a, n_a, x_b, n_b)
    assert look.cs_low < fixed.abs_ci_low and look.cs_high > fixed.abs_ci_high


def test_msprt_path_keeps_running_minimum_and_first_rejection() -> None:
    path = [(10, 200, 14, 200), (20, 400, 45, 400), (30, 600, 52, 600), (40, 800, 60, 800)]
    r = st.msprt_path(path, tau=0.03)
    ps = [st.msprt(*c, tau=0.03).p_value for c in path]
    assert r.p_value == pytest.approx(min(ps))
    assert r.rejected == (min(ps) <= 0.05)
    assert r.first_rejection_look == next((i for i, p in enumerate(ps) if p <= 0.05), None)


def test_cuped_agrees_with_ols_adjustment_and_reduces_variance() -> None:
    rng = np.random.default_rng(11)
    n = 4_000
    x = rng.poisson(5, n).astype(float)
    t = rng.random(n) < 0.5
    y = 0.8 * x + 0.8 * t + rng.normal(0, 1.0, n)
    r = st.cuped(y[~t], x[~t], y[t], x[t])
    assert r.theta == pytest.approx(np.cov(y, x)[0, 1] / np.var(x, ddof=1))
    ols = OLS(y, sm.add_constant(np.column_stack([t.astype(float), x - x.mean()]))).fit(cov_type="HC2")
    assert r.test.diff == pytest.approx(ols.params[1], abs=0.01)
    assert r.test.diff - r.test.ci_low == pytest.approx(1.959964 * ols.bse[1], rel=0.05)
    plain = st.welch_test(y[~t], y[t])
    assert (r.test.ci_high - r.test.ci_low) < 0.8 * (plain.ci_high - plain.ci_low)
    assert r.variance_reduction == pytest.approx(np.corrcoef(y, x)[0, 1] ** 2, abs=0.05)


@pytest.mark.parametrize(("p_c", "p_t", "n_c", "n_t"), [(0.05, 0.06, 5_000, 45_000), (0.2, 0.23, 800, 800)])
def test_power_matches_statsmodels(p_c, p_t, n_c, n_t) -> None:
    h = proportion_effectsize(p_t, p_c)
    ref = NormalIndPower().power(h, nobs1=n_c, alpha=0.05, ratio=n_t / n_c)
    assert st.power_two_proportions(p_c, p_t, n_c, n_t) == pytest.approx(ref, rel=1e-8)


def test_sample_size_and_mde_match_statsmodels() -> None:
    h = proportion_effectsize(0.06, 0.05)
    ref = NormalIndPower().solve_power(h, alpha=0.05, power=0.8, ratio=9.0)
    assert st.sample_size_two_proportions(0.05, 0.06, ratio=9.0) == pytest.approx(ref, rel=1e-6)
    mde = st.mde_two_proportions(0.05, 2_000, 18_000)
    h_mde = NormalIndPower().solve_power(nobs1=2_000, alpha=0.05, power=0.8, ratio=9.0)
    assert proportion_effectsize(0.05 + mde, 0.05) == pytest.approx(h_mde, rel=1e-5)
    plan = st.holdout_plan(1_000, 0.1, 0.05, 20)
    assert plan["n_holdout"] == 2_000 and plan["mde_abs"] == pytest.approx(mde)
