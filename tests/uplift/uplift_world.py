"""Synthetic randomized decisions whose true per-user effect is known.

Users with a high `affinity` are helped by the message, users with a low one are harmed, the
rest are not moved; the baseline conversion rate depends on other features, so a learner
must tell the effect apart from who converts anyway. Potential outcomes share one uniform
draw per user (converted without the message if u < baseline, with it if u < baseline +
effect), so the same users can be assigned at 90/10 and at 50/50 and differ only in who was
treated.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from reengage.learning.uplift.training import UpliftConfig

FEATURES = ("affinity", "sessions_28d", "recency_days", "plan")
HELPED, HARMED = 0.08, -0.04  # effects on conversion of affinity > 0.6 and affinity < 0.3


def true_uplift(affinity: np.ndarray, scale: float = 1.0) -> np.ndarray:
    return scale * np.where(affinity > 0.6, HELPED, np.where(affinity < 0.3, HARMED, 0.0))


def decisions(
    n: int,
    seed: int,
    *,
    treated_share: float | np.ndarray = 0.8,
    effect_scale: float = 1.0,
    days: int = 20,
    assignment_seed: int | None = None,
) -> pd.DataFrame:
    """One row per logged decision: features, treated, propensity, converted and true_uplift.

    `treated_share` is each row's probability of being treated (a number or one per row);
    `assignment_seed` draws who is treated, so the same users (same `seed`) can be assigned
    again differently.
    """
    rng = np.random.default_rng(seed)
    affinity = rng.random(n)
    sessions = rng.poisson(4, n)
    recency = rng.integers(0, 60, n)
    plan = rng.choice(np.array(["free", "pro", "team"]), n, p=[0.6, 0.3, 0.1])
    baseline = 0.03 + 0.04 * (sessions > 4) + 0.02 * (plan == "pro") - 0.01 * (recency > 30)
    uplift = true_uplift(affinity, effect_scale)
    u = rng.random(n)
    day = np.array([date(2026, 3, 1) + timedelta(days=int(d)) for d in rng.integers(0, days, n)])
    propensity = np.broadcast_to(np.asarray(treated_share, dtype="float64"), (n,)).copy()
    # A stream of its own: drawn from `seed`'s stream, treatment would follow the features.
    assign = np.random.default_rng([seed, 1 + (assignment_seed or 0)])
    treated = (assign.random(n) < propensity).astype("int64")
    converted = (u < baseline + treated * uplift).astype("int64")
    return pd.DataFrame(
        {
            "customer_id": [f"customer-{seed}-{i}" for i in range(n)],
            "run_date": day,
            "affinity": affinity,
            "sessions_28d": sessions,
            "recency_days": recency,
            "plan": plan,
            "treated": treated,
            "propensity": propensity,
            "converted": converted,
            "true_uplift": uplift,
        }
    )


def config(**overrides: object) -> UpliftConfig:
    """The table's column names, the world's features, and settings that keep tests fast."""
    settings: dict[str, object] = {
        "features": FEATURES,
        "holdout_days": 5,
        "bootstrap": 200,
        "campaign_id": "winback",
        "target": "purchase within 7 days",
    }
    settings.update(overrides)
    return UpliftConfig(**settings)  # type: ignore[arg-type]
