"""The demo's ground truth: what each customer would really do after the last generated day.

The generator knows every customer's future session intensity r(d) (the same
function that drew their past sessions: base rate x weekend bump x onboarding
boost x lifecycle, where decaying users keep decaying and stopped users stay
stopped). Sessions are Poisson, so with a per-session probability p of an event:

- ``true_churn_probability`` = P(no active action in the 14 days after end_date)
  = exp(-p_active * sum of r(d) over those 14 days), where p_active is the
  chance a session holds one of ``catalog.ACTIVE_EVENTS``. This is the churn
  label downstream models learn ("no active action in the next 14 days").
- ``baseline_conversion_rate`` = P(a purchase within 7 days without a message)
  = 1 - exp(-h0), h0 = p_purchase * sum of r(d) over the next 7 days.
- ``treated_conversion_rate`` = the same with one message: 1 - exp(-(h0 + u)),
  u = persuadability x (0.30 x click_rate + 0.03 x open_rate). Responsive,
  engaged and decaying users gain most, lapsed users barely open so gain
  little; 4% are "sleeping dogs" whom a message puts off (u = -0.3 x h0).
- ``open_rate`` / ``click_rate`` / ``unsubscribe_rate``: P(open), P(click) and
  P(unsubscribe) per delivered message (click implies open). The legacy
  newsletter history was drawn from exactly these rates, and a measurement
  sink can draw responses to new sends from them too.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from orchestration.demo.activity import (
    customer_rate,
    session_active_probability,
    session_purchase_probability,
)
from orchestration.demo.clock import Window
from orchestration.demo.population import Population

TRUTH_COLUMNS = (
    "customer_id",
    "baseline_conversion_rate",
    "treated_conversion_rate",
    "open_rate",
    "click_rate",
    "unsubscribe_rate",
    "true_churn_probability",
)
CHURN_HORIZON_DAYS = 14
CONVERSION_HORIZON_DAYS = 7


def truth_table(pop: Population, window: Window) -> pa.Table:
    future = [customer_rate(pop, window, window.days + d) for d in range(CHURN_HORIZON_DAYS)]
    sessions_14 = np.sum(future, axis=0)
    sessions_7 = np.sum(future[:CONVERSION_HORIZON_DAYS], axis=0)
    churn = np.exp(-session_active_probability(pop.p_cart) * sessions_14)
    h0 = session_purchase_probability(pop.p_cart, pop.p_buy) * sessions_7
    uplift = pop.persuadability * (0.30 * pop.click_rate + 0.03 * pop.open_rate)
    uplift = np.where(pop.sleeping_dog, -0.3 * h0, uplift)
    baseline = 1.0 - np.exp(-h0)
    treated = 1.0 - np.exp(-np.maximum(h0 + uplift, 0.0))
    return pa.table(
        {
            "customer_id": pop.customer_id,
            "baseline_conversion_rate": np.round(baseline, 6),
            "treated_conversion_rate": np.round(treated, 6),
            "open_rate": np.round(pop.open_rate, 6),
            "click_rate": np.round(pop.click_rate, 6),
            "unsubscribe_rate": np.round(pop.unsubscribe_rate, 6),
            "true_churn_probability": np.round(churn, 6),
        }
    )
