"""The CRM as it changes day by day, and which customers each daily snapshot must carry.

The first day's snapshot holds everyone who has signed up by the end of that
day; later snapshots hold only customers who signed up or changed that day
(consent given or withdrawn, newsletter unsubscribe, plan change, lifetime
value grown by that day's purchases, profile edit), each with a later
``updated_at``. A real CRM touches someone every day, and the volume gate
blocks an empty customers export, so a small world that drew no change other
than purchases on a day gets one profile edit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reengage_dev.demo.clock import DAY_MS, Window
from reengage_dev.demo.population import PLANS, Population

P_WITHDRAW_PER_DAY = 0.0008  # consenting customers who opt out on their own
P_OPT_IN_PER_DAY = 0.0003
P_PLAN_CHANGE_PER_DAY = 0.0004
P_PROFILE_EDIT_PER_DAY = 0.001  # name, address or phone: only updated_at shows it


@dataclass
class Snapshot:
    """Customer indices (sorted) and their state at the end of the day."""

    rows: np.ndarray
    plan: np.ndarray
    lifetime_value: np.ndarray
    marketing_consent: np.ndarray
    consent_updated_ms: np.ndarray
    updated_ms: np.ndarray


class CrmState:
    """Mutable per-customer CRM fields; everything else about a customer is fixed."""

    def __init__(self, pop: Population, window: Window) -> None:
        self.pop = pop
        self.window = window
        self.plan = pop.plan0.copy()
        self.ltv = pop.ltv0.copy()
        self.consent = pop.consent0.copy()
        self.consent_updated_ms = pop.consent_updated0_ms.copy()
        self.updated_ms = pop.updated0_ms.copy()

    def day(
        self,
        rng: np.random.Generator,
        k: int,
        purchases: tuple[np.ndarray, np.ndarray, np.ndarray],
        unsubscribes: tuple[np.ndarray, np.ndarray],
    ) -> Snapshot:
        """Apply day k's changes; purchases = (customer, value, ts ms), unsubscribes = (customer, ts ms)."""
        pop, n = self.pop, self.pop.n
        day_ms = self.window.day_ms(k)
        existing = pop.signup_ms < day_ms
        changed_at = np.full(n, -1, dtype=np.int64)
        new = pop.signup_day == k
        changed_at[new] = pop.signup_ms[new]

        buyer, value, bought_ms = purchases
        if len(buyer):
            self.ltv = np.round(self.ltv + np.bincount(buyer, weights=value, minlength=n), 2)
            np.maximum.at(changed_at, buyer, bought_ms // 1000 * 1000)

        draw = rng.random(n)
        flip = existing & np.where(self.consent, draw < P_WITHDRAW_PER_DAY, draw < P_OPT_IN_PER_DAY)
        flipped = np.flatnonzero(flip)
        when = day_ms + rng.integers(0, DAY_MS // 1000, len(flipped)) * 1000
        self.consent[flipped] = ~self.consent[flipped]
        self.consent_updated_ms[flipped] = when
        np.maximum.at(changed_at, flipped, when)

        who, when = unsubscribes
        still = self.consent[who]
        who, when = who[still], when[still]
        self.consent[who] = False
        np.maximum.at(self.consent_updated_ms, who, when)
        np.maximum.at(changed_at, who, when)

        movers = np.flatnonzero(existing & (rng.random(n) < P_PLAN_CHANGE_PER_DAY))
        self.plan[movers] = (self.plan[movers] + rng.integers(1, len(PLANS), len(movers))) % len(PLANS)
        when = day_ms + rng.integers(0, DAY_MS // 1000, len(movers)) * 1000
        np.maximum.at(changed_at, movers, when)

        editors = np.flatnonzero(existing & (rng.random(n) < P_PROFILE_EDIT_PER_DAY))
        # Purchases do not count here: they may come from a message, and whether someone else gets a
        # profile edit must never depend on a message.
        others = new.any() or len(flipped) or len(who) or len(movers) or len(editors)
        if k > 0 and not others and existing.any():
            editors = rng.choice(np.flatnonzero(existing), 1)
        when = day_ms + rng.integers(0, DAY_MS // 1000, len(editors)) * 1000
        np.maximum.at(changed_at, editors, when)

        changed = changed_at >= 0
        self.updated_ms = np.where(changed, np.maximum(self.updated_ms, changed_at), self.updated_ms)
        if k == 0:
            rows = np.flatnonzero(pop.signup_ms < day_ms + DAY_MS)
        else:
            rows = np.flatnonzero(changed)
        return Snapshot(
            rows=rows,
            plan=self.plan[rows],
            lifetime_value=self.ltv[rows],
            marketing_consent=self.consent[rows],
            consent_updated_ms=self.consent_updated_ms[rows],
            updated_ms=self.updated_ms[rows],
        )
