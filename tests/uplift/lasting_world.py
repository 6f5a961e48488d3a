"""A campaign log where nothing the message does changes anyone, but holdouts and habits last.

Each user is held back for good with probability 0.1 at the start (as a campaign's holdout is);
every day half the users are contenders, and a contender not held back is sent with probability
0.3 (logged: 0.27 treated, 0.1 held back). Whether a user converts depends only on a habit of
their own (mean 1, most users well below, a few far above), never on the arm. Five lasting
traits tell users apart and predict nothing. A learner can find a held-back user with a strong
habit by their traits on the training days; if the same user is judged on later days, still
held back and with the same habit, that memory looks like a ranking that beats random.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from reengage.learning.uplift.training import UpliftConfig

TRAITS = tuple(f"trait_{k}" for k in range(5))
FIRST_DAY = date(2026, 3, 1)


def no_effect_log(users: int, days: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    habit = rng.gamma(0.5, 2.0, users)
    traits = rng.random((users, len(TRAITS)))
    held = rng.random(users) < 0.1
    parts = []
    for d in range(days):
        present = np.flatnonzero(rng.random(users) < 0.5)
        treated = ~held[present] & (rng.random(len(present)) < 0.3)
        converts = rng.random(len(present)) < np.minimum(0.04 * habit[present], 0.9)
        parts.append(
            pd.DataFrame(
                {
                    "customer_id": [f"u{i}" for i in present],
                    "run_date": FIRST_DAY + timedelta(days=d),
                    **{name: traits[present, k] for k, name in enumerate(TRAITS)},
                    "sessions_28d": rng.poisson(3, len(present)),
                    "treated": treated.astype("int64"),
                    "propensity": 0.27,
                    "control": held[present].astype("int64"),
                    "control_propensity": 0.1,
                    "converted": converts.astype("int64"),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def config(**overrides: object) -> UpliftConfig:
    """The log's columns, one user per cluster, the latest 30% of rows judged."""
    settings: dict[str, object] = {
        "campaign_id": "lasting",
        "features": (*TRAITS, "sessions_28d"),
        "control_column": "control",
        "control_propensity_column": "control_propensity",
        "cluster_column": "customer_id",
        "holdout_share": 0.3,
        "bootstrap": 200,
    }
    settings.update(overrides)
    return UpliftConfig(**settings)  # type: ignore[arg-type]
