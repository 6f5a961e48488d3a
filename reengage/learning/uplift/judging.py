"""A campaign's targeting judged before it goes live: what each candidate would have achieved.

From a campaign's logged randomized decisions (`examples.decision_examples`: features, arm,
recorded chance of being sent, conversion), each candidate targeting is turned into every row's
chance of being sent under it, the targeting rule's Python twin (`targeting.py`) applied day by
day to the same contenders, times the holdouts' share that is still sent:

- `as run`: the chances the log recorded (the campaign's targeting as it ran);
- `send to every contender`: rules targeting;
- `random at budget`, `churn risk at budget`, `uplift at budget`: the ranked modes at one budget
  share (uplift with the campaign's exploration share and minimum, scored by predictions the
  caller made without those rows: cross-fitted).

Each is judged by the doubly robust estimate (`policy_value.py`) of its incremental conversions
per 1,000 decisions against sending nobody (the comparison arm is the rows held back for good: a
row the targeting did not draw today may be sent tomorrow, inside today's window), with a 95%
interval clustered by customer, using cross-fitted outcome models. The same rows and the same
outcome models serve every candidate, so differences between them are not differences of data.
Rows the log could never send (a predicted harm under uplift targeting) are not among the
examples: every estimate is about the contenders the log could have sent either way, and says
so.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold

from reengage.learning.features import FEATURES
from reengage.learning.uplift.learner import LearnerConfig, fit_uplift
from reengage.learning.uplift.outcome_models import cross_fitted_outcome_models
from reengage.learning.uplift.policy_value import DecisionLog, IntervalConfig, estimate_policies
from reengage.learning.uplift.targeting import TargetingRule, selection_probabilities

JUDGED_COLUMNS = (
    "targeting",
    "sends_per_1000",
    "incremental_per_1000",
    "incremental_per_1000_low",
    "incremental_per_1000_high",
    "incremental_total",
    "rows",
)
# Outcome models need a few rows of each arm per fold; below this the estimate is not made.
MIN_EXAMPLES = 200
# Uplift predictions are cross-fitted over whole days (one fold per day at most): fewer days than
# folds would judge uplift targeting on predictions from a model that saw too little, or none.
MIN_DAYS = 3


def candidate_chances(
    examples: pd.DataFrame,
    *,
    budget_share: float,
    exploration_share: float,
    min_uplift: float,
    uplift: np.ndarray | None,
) -> dict[str, np.ndarray]:
    """Every candidate's chance of sending each logged row (name -> array), as the policy would draw it.

    A candidate changes the targeting only: the share of assigned rows the global and campaign
    holdouts leave to be sent is each row's own, as logged (propensity / selection_probability).
    """
    sent = examples["propensity"].to_numpy(dtype=float) / examples["selection_probability"].to_numpy(
        dtype=float
    )
    day, customer = examples["run_date"].to_numpy(), examples["customer_id"].to_numpy()
    nothing = np.full(len(examples), np.nan)

    def at_budget(mode: str, score: np.ndarray, explore: float = 0.0, minimum: float = 0.0) -> np.ndarray:
        rule = TargetingRule(mode, budget_share=budget_share, min_uplift=minimum, exploration_share=explore)
        return sent * selection_probabilities(rule, day, score, customer)

    chances = {
        "as run": examples["propensity"].to_numpy(dtype=float),
        "send to every contender": sent,
        f"random, {budget_share:.0%} a day": at_budget("random", nothing),
        f"churn risk, {budget_share:.0%} a day": at_budget(
            "risk", examples["churn_probability"].to_numpy(dtype=float)
        ),
    }
    if uplift is not None:
        chances[f"uplift, {budget_share:.0%} a day"] = at_budget(
            "uplift", np.asarray(uplift, dtype=float), exploration_share, min_uplift
        )
    return chances


def judge_targetings(
    examples: pd.DataFrame,
    chances: dict[str, np.ndarray],
    *,
    seed: int = 0,
    n_threads: int | None = None,
    intervals: IntervalConfig | None = None,
) -> pd.DataFrame:
    """The doubly robust incremental conversions of each candidate (JUDGED_COLUMNS), best first."""
    if len(examples) < MIN_EXAMPLES:
        raise ValueError(f"{len(examples)} matured decisions: at least {MIN_EXAMPLES} are needed to judge")
    treated = examples["treated"].to_numpy(dtype=float)
    converted = examples["converted"].to_numpy(dtype=float)
    control = examples["control"].to_numpy(dtype=float)
    customers = examples["customer_id"].to_numpy()
    folds = min(5, len(np.unique(customers)))
    mu0, mu1 = cross_fitted_outcome_models(
        examples[list(FEATURES)],
        treated,
        converted,
        control=control,
        cluster=customers,
        folds=folds,
        seed=seed,
        n_threads=n_threads,
    )
    log = DecisionLog(
        treated=treated,
        outcome=converted,
        propensity=examples["propensity"].to_numpy(dtype=float),
        mu0=mu0,
        mu1=mu1,
        cluster=customers,
        control=control,
        control_propensity=examples["control_propensity"].to_numpy(dtype=float),
    )
    results = estimate_policies(log, chances, intervals=intervals or IntervalConfig())
    rows = []
    for name, result in results.items():
        per_1000, total = result.incremental_per_1000("dr"), result.incremental_total("dr")
        rows.append(
            (
                name,
                1000 * result.treat_share,
                per_1000.mean,
                per_1000.low,
                per_1000.high,
                total.mean,
                result.rows,
            )
        )
    table = pd.DataFrame.from_records(rows, columns=list(JUDGED_COLUMNS))
    return table.sort_values("incremental_per_1000", ascending=False, kind="stable").reset_index(drop=True)


def cross_fitted_uplift(
    examples: pd.DataFrame, config: LearnerConfig | None = None, folds: int = 3
) -> np.ndarray:
    """Every row's predicted uplift from a learner that never saw its day (folds of whole days).

    Judging uplift targeting with predictions a model made on its own training rows would credit
    it with the noise it fitted; whole days apart also keep a user's same-day rows together.
    """
    days = examples["run_date"].to_numpy()
    groups = pd.factorize(pd.Series(days))[0]
    splits = GroupKFold(n_splits=min(folds, int(groups.max()) + 1)).split(examples, groups=groups)
    predicted = np.empty(len(examples))
    for train, held in splits:
        part = examples.iloc[train]
        model = fit_uplift(
            part[list(FEATURES)],
            part["treated"].to_numpy(dtype=float),
            part["converted"].to_numpy(dtype=float),
            part["propensity"].to_numpy(dtype=float),
            config,
            control=part["control"].to_numpy(dtype=float),
            control_propensity=part["control_propensity"].to_numpy(dtype=float),
            cluster=part["customer_id"].to_numpy(),
        )
        predicted[held] = model.predict_uplift(examples.iloc[held][list(FEATURES)])
    return predicted
