"""The demo's ground truth: what customers would really do, with and without a message.

The generator knows every customer's session intensity r(d) on every day d
(base rate x weekend bump x onboarding boost x lifecycle, where decaying users
keep decaying and stopped users stay stopped; ``activity.customer_rate``) and
when in the day sessions start (``clock.SESSION_HOURS`` in the user's own
timezone). Sessions are Poisson, so with a per-session probability p of an
event, the number of such events in any stretch of time is Poisson with mean
H = p x (expected sessions starting in that stretch), and P(at least one) = 1 - exp(-H).

``user_truth.parquet`` (``truth_table``), one row per customer, as of the day
after the last generated day:

- ``true_churn_probability`` = P(no active action in the next 14 days)
  = exp(-p_active x sessions of those 14 days), p_active the chance a session
  holds one of ``catalog.ACTIVE_EVENTS``: the label the churn model learns.
- ``baseline_conversion_rate`` = P(a purchase within 7 days without a message)
  = 1 - exp(-h0), h0 = p_purchase x sessions of the next 7 days.
- ``treated_conversion_rate`` = the same after one generic message:
  1 - exp(-(h0 + u)), u = persuadability x (0.30 x click_rate + 0.03 x open_rate);
  put-off users lose instead (u = -0.3 x h0). A statistical yardstick for
  benchmarks/measurement_validation.py; the campaigns' own effects are below.
- ``open_rate`` / ``click_rate`` / ``unsubscribe_rate``: P(open), P(click) and
  P(unsubscribe) per delivered message before a campaign's factors (click implies open).
- ``kind`` (the key of the world specification's effects) and ``responsiveness``
  (the user's multiplier of a campaign's extra purchases).

Campaign effects (``conversion_probabilities``): a delivered message adds
Poisson(extra) purchase visits, extra = the cell's ``extra_purchases`` x the
user's responsiveness, each at a truncated-exponential delay after the effect
starts (the next UTC day, or the send if later) and before it ends
(``duration_days`` after the send), and keeps each of the user's own sessions
starting in that stretch with probability ``activity_factor``. So for an
attribution window (s, e]:

    P(convert | held out) = 1 - exp(-H(s, e))
    P(convert | sent)     = 1 - exp(-(H(s, e) - (1 - factor) x H(effect within window)
                                       + extra x P(visit delay within window)))

where H(a, b) is the user's expected baseline purchases in [a, b). A bounced
or dropped message does nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from reengage_dev.demo.activity import (
    customer_rate,
    identified_share,
    session_active_probability,
    session_purchase_probability,
)
from reengage_dev.demo.clock import DAY_MS, Window, start_share, utc_offsets_ms
from reengage_dev.demo.population import Population
from reengage_dev.demo.spec import KINDS

TRUTH_COLUMNS = (
    "customer_id",
    "baseline_conversion_rate",
    "treated_conversion_rate",
    "open_rate",
    "click_rate",
    "unsubscribe_rate",
    "true_churn_probability",
    "kind",
    "responsiveness",
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
    uplift = np.where(pop.put_off, -0.3 * h0, uplift)
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
            "kind": pa.array(KINDS, pa.string()).take(pa.array(pop.kind.astype(np.int32))),
            "responsiveness": np.round(pop.responsiveness, 6),
        }
    )


def baseline_purchases(
    pop: Population, window: Window, who: np.ndarray, from_ms: np.ndarray, to_ms: np.ndarray
) -> np.ndarray:
    """Expected purchases of customers `who` in [from_ms, to_ms) without any message (0 if empty)."""
    from_ms = np.asarray(from_ms, dtype=np.int64)
    to_ms = np.maximum(np.asarray(to_ms, dtype=np.int64), from_ms)
    total = np.zeros(len(who))
    if not len(who):
        return total
    per_session = session_purchase_probability(pop.p_cart[who], pop.p_buy[who])
    first = int((from_ms.min() - window.start_ms) // DAY_MS)
    last = int((to_ms.max() - 1 - window.start_ms) // DAY_MS)
    tz = pop.tz[who]
    for k in range(first, last + 1):
        day_ms = window.day_ms(k)
        lo = np.clip(from_ms - day_ms, 0, DAY_MS)
        hi = np.clip(to_ms - day_ms, 0, DAY_MS)
        if not (hi > lo).any():
            continue
        share = start_share(utc_offsets_ms(window.day(k))[tz], lo, hi)
        total += customer_rate(pop, window, k, who) * identified_share(pop, k, who) * per_session * share
    return total


@dataclass(frozen=True)
class SentEffect:
    """What a delivered message does, per message (arrays of one length): see the module docstring."""

    start_ms: np.ndarray  # the effect starts: the next UTC day after the send's run, or the send if later
    end_ms: np.ndarray  # send + duration_days
    extra: np.ndarray  # expected extra purchase visits (cell x responsiveness)
    factor: np.ndarray  # activity_factor
    delivered: np.ndarray  # bool: a bounced or dropped message does nothing


def visit_share(start_ms: np.ndarray, end_ms: np.ndarray, until_ms: np.ndarray, mean_delay_ms: float):
    """Share of the extra visits (truncated exponential on [start, end)) that come before `until_ms`."""
    span = np.maximum(end_ms - start_ms, 1) / mean_delay_ms
    upto = np.clip(until_ms - start_ms, 0, None) / mean_delay_ms
    return -np.expm1(-np.minimum(upto, span)) / -np.expm1(-span)


def conversion_probabilities(
    pop: Population,
    window: Window,
    who: np.ndarray,
    window_from_ms: np.ndarray,
    window_to_ms: np.ndarray,
    sent: SentEffect | None,
    mean_delay_ms: float,
) -> tuple[np.ndarray, np.ndarray]:
    """(P(convert) without the message, P(convert) with it) in each attribution window (from, to].

    `sent` describes the message each row received; None (or a row that was not delivered) gives
    the same probability twice.
    """
    base = baseline_purchases(pop, window, who, window_from_ms, window_to_ms)
    without = -np.expm1(-base)
    if sent is None:
        return without, without
    eff_from = np.maximum(sent.start_ms, window_from_ms)
    eff_to = np.minimum(sent.end_ms, window_to_ms)
    within = baseline_purchases(pop, window, who, eff_from, np.maximum(eff_to, eff_from))
    extra = sent.extra * visit_share(sent.start_ms, sent.end_ms, window_to_ms, mean_delay_ms)
    treated = base - (1.0 - sent.factor) * within + extra
    return without, np.where(sent.delivered, -np.expm1(-treated), without)
