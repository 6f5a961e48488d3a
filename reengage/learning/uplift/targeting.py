"""The targeting rule of the daily decision, in Python: each contender's chance of being assigned.

The daily decision computes it in SQL for every contender at once
(reengage/defs/interventions/policy/decisions.sql, the `contenders` to `selected` steps);
this twin computes the same numbers for a what-if: the same rule applied to other scores or
another budget, on logged decisions, to judge a targeting before it goes live.
`tests/interventions/test_policy_targeting.py` checks the two agree.

Per day, among the day's contenders (the users the campaign won the day for):

- `rules`: everyone, chance 1.
- `uplift`: a predicted harm (score below 0) never; the rest by exploration share e plus the
  ranking, which picks the K highest scores at or above `min_uplift` with
  K = round((budget - e * sendable) / (1 - e)) so that expected assignments equal the budget.
- `risk`: as uplift, with churn probabilities for scores and no harm or minimum.
- `random`: each sendable contender with chance budget / sendable (at most 1).

Budget = `budget_sends`, or `budget_share` x the day's contenders. Ties in score go to the
smaller tie-break key (the customer id in the daily decision).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike


@dataclass(frozen=True)
class TargetingRule:
    mode: str  # rules, uplift, risk or random
    budget_share: float | None = None
    budget_sends: int | None = None
    min_uplift: float = 0.0
    exploration_share: float = 0.0


def selection_probabilities(
    rule: TargetingRule, day: ArrayLike, score: ArrayLike, tie_break: ArrayLike
) -> np.ndarray:
    """Each contender's chance of being assigned (either arm) under `rule`, day by day."""
    frame = pd.DataFrame({"day": np.asarray(day), "score": np.asarray(score, dtype=float)})
    if rule.mode == "rules":
        return np.ones(len(frame))
    frame["tie"] = np.asarray(tie_break)
    chance = np.zeros(len(frame))
    for _, rows in frame.groupby("day", sort=False):
        index = rows.index.to_numpy()
        s = rows["score"].to_numpy()
        harmed = (s < 0) if rule.mode == "uplift" else np.zeros(len(s), bool)
        sendable = int((~harmed).sum())
        budget = float(rule.budget_sends) if rule.budget_sends is not None else rule.budget_share * len(s)
        if rule.mode == "random":
            chance[index[~harmed]] = min(budget / max(sendable, 1), 1.0)
            continue
        e = rule.exploration_share
        # Half away from zero, as SQL's round(): Python's round() would send one fewer on a tie.
        picks = max(int(np.floor((budget - e * sendable) / (1 - e) + 0.5)), 0)
        rankable = ~np.isnan(s) & ~harmed
        if rule.mode == "uplift":
            rankable &= s >= rule.min_uplift
        ranked = rows[rankable].sort_values(["score", "tie"], ascending=[False, True]).index.to_numpy()
        chance[index[~harmed]] = e
        chance[ranked[:picks]] = 1.0
    return chance
