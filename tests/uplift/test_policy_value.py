"""Off-policy estimates of a candidate policy's value, judged against synthetic logs whose potential
outcomes are known."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reengage.learning.uplift.policy_value import (
    ESTIMATORS,
    TABLE_COLUMNS,
    DecisionLog,
    IntervalConfig,
    PolicyLogError,
    compare_policies,
    estimate_policies,
    estimate_policy_value,
)

# The synthetic world: a user's feature x in [0, 1]; conversion 0.2 + 0.2x if held, and a message
# that helps low-x users and hurts high-x ones (effect 0.3 - 0.4x).


def held_rate(x: np.ndarray) -> np.ndarray:
    return 0.2 + 0.2 * x


def sent_rate(x: np.ndarray) -> np.ndarray:
    return held_rate(x) + 0.3 - 0.4 * x


def candidate(x: np.ndarray) -> np.ndarray:
    """The policy to judge: send to x < 0.4, unlike the logging policy's choice."""
    return (x < 0.4).astype(float)


# Expected value over x ~ U(0, 1), by the midpoint rule on a fine grid of the same functions.
_GRID = (np.arange(200_000) + 0.5) / 200_000
TRUE_VALUE = float(np.mean(candidate(_GRID) * sent_rate(_GRID) + (1 - candidate(_GRID)) * held_rate(_GRID)))
TRUE_INCREMENT = float(np.mean(candidate(_GRID) * (sent_rate(_GRID) - held_rate(_GRID))))


@dataclass(frozen=True)
class SyntheticLog:
    x: np.ndarray
    treated: np.ndarray
    outcome: np.ndarray
    propensity: np.ndarray
    held_outcome: np.ndarray  # Y(0), known only because the world is synthetic
    sent_outcome: np.ndarray  # Y(1)

    def decisions(self, outcome_model: bool = True) -> DecisionLog:
        if not outcome_model:
            return DecisionLog(self.treated, self.outcome, self.propensity)
        # A reasonable but imperfect outcome model: each arm's rate a few points off.
        return DecisionLog(
            self.treated,
            self.outcome,
            self.propensity,
            mu0=held_rate(self.x) + 0.03,
            mu1=sent_rate(self.x) - 0.02,
        )


def logged(rows: int, seed: int) -> SyntheticLog:
    """A logging policy that sends where its model says x > 0.5, except on an exploration share of
    0.2 where a fair coin decides: propensity 0.9 or 0.1, varying by row."""
    rng = np.random.default_rng(seed)
    x = rng.random(rows)
    model_choice = (x > 0.5).astype(float)
    propensity = 0.8 * model_choice + 0.2 * 0.5
    treated = (rng.random(rows) < propensity).astype(float)
    draw = rng.random(rows)  # one draw for both arms: Y(1) and Y(0) of a user are related
    held, sent = (draw < held_rate(x)).astype(float), (draw < sent_rate(x)).astype(float)
    return SyntheticLog(x, treated, np.where(treated == 1, sent, held), propensity, held, sent)


def test_ips_and_dr_recover_the_value_of_a_policy_the_log_did_not_follow():
    # Guards the estimators against the log's own policy leaking in: the candidate sends mostly
    # where the log held (propensity 0.1), so unweighted means would be far off.
    log = logged(20_000, seed=1)
    p = candidate(log.x)
    in_sample_value = float(np.mean(p * log.sent_outcome + (1 - p) * log.held_outcome))
    in_sample_increment = float(np.mean(p * (log.sent_outcome - log.held_outcome)))
    result = estimate_policy_value(log.decisions(), p)
    naive = log.outcome[log.treated == p].mean()  # the rows where the log agreed with the policy
    assert abs(naive - in_sample_value) > 0.03  # the unweighted answer is wrong by several points
    for estimator in ("ips", "dr"):
        value, increment = result.value[estimator], result.incremental[estimator]
        assert abs(value.mean - in_sample_value) < 3 * value.se, estimator
        assert abs(increment.mean - in_sample_increment) < 3 * increment.se, estimator
        assert value.se < 0.02 and increment.se < 0.02  # informative at this size, not vacuous
    assert result.incremental_total("dr").mean == pytest.approx(20_000 * result.incremental["dr"].mean)
    assert result.incremental_per_1000("dr").low == pytest.approx(1000 * result.incremental["dr"].low)


@pytest.fixture(scope="module")
def repeated_logs() -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray, float]]:
    """200 small logs: per (kind, estimator) the estimates, their covered-the-truth flags and the mean se."""
    found: dict[tuple[str, str], list[tuple[float, bool, float]]] = {}
    for seed in range(200):
        log = logged(1_000, seed=seed)
        result = estimate_policy_value(log.decisions(), candidate(log.x))
        for kind, estimates, truth in (
            ("value", result.value, TRUE_VALUE),
            ("incremental", result.incremental, TRUE_INCREMENT),
        ):
            for estimator in ESTIMATORS:
                e = estimates[estimator]
                found.setdefault((kind, estimator), []).append((e.mean, e.low <= truth <= e.high, e.se))
    return {
        key: (
            np.array([m for m, _, _ in rows]),
            np.array([c for _, c, _ in rows]),
            np.mean([s for *_, s in rows]),
        )
        for key, rows in found.items()
    }


@pytest.mark.parametrize("kind", ["value", "incremental"])
@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_the_95_percent_interval_covers_the_true_value_in_about_95_percent_of_repeated_logs(
    repeated_logs, kind, estimator
):
    # Guards the interval's meaning: a standard error too small (a missing weight, a wrong
    # linearisation of SNIPS) shows as coverage well below 95%, one too large as nearly 100%.
    _, covered, _ = repeated_logs[kind, estimator]
    assert 0.88 <= covered.mean() <= 0.99


def test_the_reported_standard_error_matches_the_spread_of_the_estimates_over_repeated_logs(repeated_logs):
    # Guards the interval's width beyond the loose per-estimator bounds: a 90% interval sold as a
    # 95% one (a wrong quantile) or a standard error off by a constant would still cover 88% of the
    # time, but not 92-98% on average over the six estimates, nor match the estimates' spread.
    coverages = [covered.mean() for _, covered, _ in repeated_logs.values()]
    assert 0.92 <= np.mean(coverages) <= 0.98
    for estimates, _, mean_se in repeated_logs.values():
        assert 0.8 < mean_se / estimates.std() < 1.2


@pytest.mark.parametrize("kind", ["value", "incremental"])
def test_the_doubly_robust_estimate_varies_less_than_ips_with_a_reasonable_outcome_model(repeated_logs, kind):
    # Guards the reason to give an outcome model at all: DR must use it to cut the noise.
    ips, _, ips_se = repeated_logs[kind, "ips"]
    dr, _, dr_se = repeated_logs[kind, "dr"]
    assert dr.var() < 0.8 * ips.var()
    assert dr_se < ips_se


def test_sending_nobody_has_an_incremental_value_of_exactly_zero_by_every_estimator():
    # Guards the baseline the product reports against: any leftover term would show as phantom
    # conversions for doing nothing.
    log = logged(2_000, seed=2)
    result = estimate_policy_value(log.decisions(), np.zeros(2_000), name="send-to-none")
    for estimator in ESTIMATORS:
        increment = result.incremental[estimator]
        assert (increment.mean, increment.low, increment.high) == (0.0, 0.0, 0.0)
        assert result.incremental_total(estimator).mean == 0.0


def test_the_logging_policy_is_worth_the_observed_mean_and_its_increment_is_that_minus_sending_nobody():
    # Guards the on-policy check an analyst makes first: judged on its own log, the policy that
    # wrote it must be worth what the log observed, and its increment the observed outcome minus
    # the estimate of sending nobody.
    log = logged(3_000, seed=4)
    results = estimate_policies(log.decisions(), {"logging": log.propensity, "send-to-none": np.zeros(3_000)})
    logging, nobody = results["logging"], results["send-to-none"]
    observed = log.outcome.mean()
    for estimator in ("ips", "snips"):
        assert logging.value[estimator].mean == pytest.approx(observed, abs=1e-12)
        assert logging.incremental[estimator].mean == pytest.approx(
            observed - nobody.value[estimator].mean, abs=1e-12
        )
    assert logging.incremental["dr"].mean == pytest.approx(
        logging.value["dr"].mean - nobody.value["dr"].mean, abs=1e-12
    )


def test_in_a_plain_randomized_test_the_logging_policys_increment_is_the_observed_minus_the_holdout_mean():
    # Guards SNIPS against weighting the holdout wrongly: with one propensity for every row it is the
    # difference an analyst computes by hand.
    rng = np.random.default_rng(5)
    treated = (rng.random(1_000) < 0.8).astype(float)
    outcome = (rng.random(1_000) < 0.1 + 0.05 * treated).astype(float)
    log = DecisionLog(treated, outcome, np.full(1_000, 0.8))
    result = estimate_policy_value(log, np.full(1_000, 0.8))
    assert result.incremental["snips"].mean == pytest.approx(outcome.mean() - outcome[treated == 0].mean())


def test_rows_the_log_could_never_treat_are_counted_and_judged_by_the_outcome_model_without_inf_or_nan():
    # Guards against dividing by a propensity of 0 or 1 (infinite weights) and against silently
    # passing off IPS's blind spot as a finding: rows 0-99 could never be sent, rows 100-149 were
    # always sent, and the candidate sends to everyone.
    rng = np.random.default_rng(6)
    rows = 1_000
    propensity = np.concatenate([np.zeros(100), np.ones(50), np.full(rows - 150, 0.5)])
    treated = (rng.random(rows) < propensity).astype(float)
    outcome = (rng.random(rows) < 0.3).astype(float)
    mu0, mu1 = np.full(rows, 0.3), np.full(rows, 0.35)
    result = estimate_policy_value(DecisionLog(treated, outcome, propensity, mu0=mu0, mu1=mu1), np.ones(rows))
    assert result.off_support_rows == 100  # the always-sent rows are fine for sending to all
    assert result.off_support_share == pytest.approx(0.1)
    assert result.off_support_rows_incremental == 150  # their effect was never seen either
    assert result.dr_uses_outcome_model_off_support
    assert any("100 of 1000 decisions (10.0%) for the value and 150 (15.0%)" in c for c in result.caveats)
    assert any("outcome model's prediction" in caveat for caveat in result.caveats)
    figures = [v for e in (*result.value.values(), *result.incremental.values()) for v in vars(e).values()]
    assert np.isfinite(figures).all()
    # DR scores the never-sendable rows with mu1, as the estimate's definition says.
    supported = DecisionLog(treated[100:], outcome[100:], propensity[100:], mu0=mu0[100:], mu1=mu1[100:])
    dr_rest = estimate_policy_value(supported, np.ones(rows - 100)).value["dr"].mean
    assert result.value["dr"].mean == pytest.approx((100 * 0.35 + (rows - 100) * dr_rest) / rows)


def test_a_log_with_no_outcome_model_gives_ips_and_snips_and_says_why_dr_is_missing():
    log = logged(500, seed=7)
    result = estimate_policy_value(log.decisions(outcome_model=False), candidate(log.x))
    assert result.value["dr"] is None and result.incremental["dr"] is None
    assert result.value["ips"] is not None
    assert any("no outcome model" in caveat for caveat in result.caveats)


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([0.0, 1.0, 0.05, 0.5, 0.95]),  # propensity, certain ones included
            st.floats(0, 1),  # the candidate's probability of treating
            st.floats(0, 1),  # a uniform draw deciding the treatment
            st.sampled_from([0.0, 1.0, 3.5]),  # outcome
        ),
        min_size=2,
        max_size=40,
    )
)
def test_any_log_and_any_candidate_give_finite_figures_and_sending_nobody_is_worth_nothing_extra(rows):
    # Guards every edge of support at once: certain propensities, a policy that treats nowhere the
    # log did, a log with no held row; an estimator either answers with finite numbers or says None.
    propensity, policy, draw, outcome = (np.array(column) for column in zip(*rows, strict=True))
    treated = (draw < propensity).astype(float)
    treated[propensity == 1.0] = 1.0
    log = DecisionLog(treated, outcome, propensity, mu0=np.full(len(rows), 0.5), mu1=np.full(len(rows), 0.7))
    results = estimate_policies(log, {"candidate": policy, "none": np.zeros(len(rows))})
    for result in results.values():
        for estimate in (*result.value.values(), *result.incremental.values()):
            assert estimate is None or np.isfinite(list(vars(estimate).values())).all()
    assert results["none"].incremental["ips"].mean == 0.0
    assert results["none"].incremental["dr"].mean == 0.0


def test_a_policy_that_treats_with_vanishing_probability_still_gets_finite_figures():
    # Guards the effective-decisions count against underflow: on a log that sent everyone, a policy
    # sending with probability 1e-300 weighs every row 1e-300, whose square is 0.
    outcome = np.arange(50) % 2.0
    log = DecisionLog(np.ones(50), outcome, np.ones(50))
    result = estimate_policy_value(log, np.full(50, 1e-300))
    assert result.effective_rows == pytest.approx(50)
    assert result.value["snips"].mean == pytest.approx(0.5)


def users_with_correlated_rows(users: int, rows_per_user: int, seed: int) -> DecisionLog:
    """Each user converts on every daily row at their own rate, 2% or 90%: rows of one user agree."""
    rng = np.random.default_rng(seed)
    user = np.repeat(np.arange(users), rows_per_user)
    rate = rng.choice([0.02, 0.9], users)[user]
    treated = (rng.random(len(user)) < 0.5).astype(float)
    outcome = (rng.random(len(user)) < rate).astype(float)
    return DecisionLog(
        treated, outcome, np.full(len(user), 0.5), cluster=np.char.add("user-", user.astype(str))
    )


def test_clustering_by_user_widens_the_interval_when_a_users_rows_are_correlated():
    # Guards against treating 20 daily rows of one user as 20 independent people: the interval
    # would be too narrow and a useless policy could look like a winner.
    log = users_with_correlated_rows(users=200, rows_per_user=20, seed=8)
    unclustered = DecisionLog(log.treated, log.outcome, log.propensity)
    policy = np.ones(log.rows)
    clustered = estimate_policy_value(log, policy)
    independent = estimate_policy_value(unclustered, policy)
    assert clustered.clustered and clustered.clusters == 200
    assert clustered.value["ips"].mean == independent.value["ips"].mean  # same estimate, wider interval
    assert clustered.value["ips"].se > 1.5 * independent.value["ips"].se
    assert clustered.value["snips"].se > 1.5 * independent.value["snips"].se


def test_the_bootstrap_interval_is_seeded_and_agrees_with_the_normal_one_on_a_large_log():
    # Guards the option against an unseeded resample (a report that changes on every rerun) and
    # against resampling something other than the clusters.
    log = users_with_correlated_rows(users=300, rows_per_user=5, seed=9)
    policy = np.ones(log.rows)
    bootstrap = IntervalConfig("bootstrap", draws=400, seed=3)
    first = estimate_policy_value(log, policy, intervals=bootstrap)
    again = estimate_policy_value(log, policy, intervals=bootstrap)
    normal = estimate_policy_value(log, policy)
    assert first == again
    for estimator in ("ips", "snips"):
        boot, clt = first.value[estimator], normal.value[estimator]
        assert boot.mean == pytest.approx(clt.mean, abs=1e-12)
        assert 0.8 < (boot.high - boot.low) / (clt.high - clt.low) < 1.25
    assert first.interval == "bootstrap"


def test_the_result_as_a_dict_holds_numbers_and_words_only_never_a_user_id():
    # Guards reports and Dagster metadata against carrying the cluster key (a user id) along.
    log = users_with_correlated_rows(users=40, rows_per_user=3, seed=10)
    as_dict = estimate_policy_value(log, log.propensity, name="logging").to_dict()
    text = json.dumps(as_dict)
    assert "user-" not in text

    def leaves(node):
        if isinstance(node, dict):
            for value in node.values():
                yield from leaves(value)
        elif isinstance(node, list):
            for value in node:
                yield from leaves(value)
        else:
            yield node

    assert all(isinstance(leaf, (int, float, str, bool)) or leaf is None for leaf in leaves(as_dict))
    assert as_dict["value"]["ips"]["mean"] == pytest.approx(log.outcome.mean())


def test_several_policies_compare_in_one_table_with_a_row_per_policy_and_estimator():
    # Guards the report's table: every candidate under every estimator, ranked as the truth ranks
    # them (the candidate is worth about +88 conversions per 1,000 decisions, sending to x > 0.6,
    # where the message mostly hurts, about -8).
    log = logged(10_000, seed=11)
    table = compare_policies(
        log.decisions(),
        {
            "uplift": candidate(log.x),
            "wrong-way": (log.x > 0.6).astype(float),
            "send-to-all": np.ones(10_000),
            "send-to-none": np.zeros(10_000),
        },
    )
    assert list(table.columns) == list(TABLE_COLUMNS)
    assert len(table) == 4 * len(ESTIMATORS)
    by_row = table.set_index(["policy", "estimator"])
    assert by_row.loc[("send-to-none", "dr"), "incremental_total"] == 0.0
    for estimator in ESTIMATORS:
        uplift, wrong = by_row.loc["uplift", estimator], by_row.loc["wrong-way", estimator]
        assert uplift["incremental_per_1000"] > wrong["incremental_per_1000"] + 40
        assert uplift["incremental_total"] == pytest.approx(10 * uplift["incremental_per_1000"])
    assert by_row.loc[("uplift", "dr"), "treat_share"] == pytest.approx(candidate(log.x).mean())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda t, y, e: (t, y, np.where(np.arange(len(e)) == 3, 1.5, e)),
            "propensity: row 4 not a probability",
        ),
        (lambda t, y, e: (np.where(np.arange(len(t)) == 0, 2.0, t), y, e), "treated: row 1 not 0 or 1"),
        (lambda t, y, e: (t, np.where(np.arange(len(y)) == 7, np.nan, y), e), "outcome: row 8 not a finite"),
        (lambda t, y, e: (np.ones(len(t)), y, np.zeros(len(e))), "got a treatment their propensity says"),
    ],
)
def test_a_log_that_cannot_be_right_is_refused_with_the_field_and_rows(change, message):
    # Guards against estimating from a log with a broken propensity: the estimate would be wrong
    # without any sign of it.
    log = logged(20, seed=12)
    treated, outcome, propensity = change(log.treated, log.outcome, log.propensity)
    with pytest.raises(PolicyLogError, match=message):
        DecisionLog(treated, outcome, propensity)


def test_a_candidate_probability_outside_zero_and_one_is_refused_naming_the_policy():
    log = logged(20, seed=13)
    with pytest.raises(PolicyLogError, match="policy 'greedy': row 2 not a probability"):
        estimate_policies(log.decisions(), {"greedy": np.where(np.arange(20) == 1, 1.2, 0.5)})


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (dict(method="jackknife"), "'clt' or 'bootstrap'"),
        (dict(level=95), "between 0 and 1"),
        (dict(method="bootstrap", draws=1), "at least 2 resamples"),
    ],
)
def test_an_interval_setting_that_means_nothing_is_refused(config, message):
    # Guards against a level given in percent silently producing a 0-width or infinite interval.
    with pytest.raises(PolicyLogError, match=message):
        IntervalConfig(**config)


@pytest.mark.parametrize(
    ("control", "control_propensity", "message"),
    [
        (
            lambda t: np.where(np.arange(len(t)) == 2, 0.5, 0.0),
            lambda e: 0.05 + 0 * e,
            "control: row 3 not 0 or 1",
        ),
        (lambda t: t, lambda e: 0.05 + 0 * e, "treated and control at once"),
        (lambda t: 0 * t, lambda e: 1 - e + 0.1, "not a probability in \\[0, 1 - propensity\\]"),
        (lambda t: 1 - t, lambda e: 0 * e, "held back for good with control propensity 0"),
    ],
)
def test_a_comparison_arm_that_cannot_be_right_is_refused_with_the_field_and_rows(
    control, control_propensity, message
):
    log = logged(20, seed=14)
    with pytest.raises(PolicyLogError, match=message):
        DecisionLog(
            log.treated,
            log.outcome,
            log.propensity,
            control=control(log.treated),
            control_propensity=control_propensity(log.propensity),
        )


def test_a_log_whose_comparison_arm_is_every_row_not_treated_gives_the_same_estimates_as_without_one():
    log = logged(2000, seed=15)
    plain = log.decisions()
    explicit = DecisionLog(
        log.treated,
        log.outcome,
        log.propensity,
        mu0=plain.mu0,
        mu1=plain.mu1,
        control=1 - log.treated,
        control_propensity=1 - log.propensity,
    )
    policy = {"candidate": candidate(log.x)}
    a = estimate_policies(plain, policy)["candidate"]
    b = estimate_policies(explicit, policy)["candidate"]
    for estimator in ESTIMATORS:
        assert a.incremental[estimator] == b.incremental[estimator]
        assert a.value[estimator] == b.value[estimator]
