"""Product-analytics events: sessions drawn from each user's intensity, walked through a funnel.

Per UTC day, every customer gets Poisson(rate) sessions, where the rate is their
heavy-tailed base rate (lognormal across users) times a weekend bump, an
onboarding boost after signup and their lifecycle (steady, exponential decay,
a hard stop, or never active after signup). Session starts follow a daily
rhythm in the user's own timezone (evening peak), converted to UTC with that
day's offset. Each session walks page_view -> product_view -> add_to_cart ->
checkout_started -> purchase with drop-off at every step, plus optional
search, login and form_submit; events are seconds to minutes apart and a few
gaps exceed 30 minutes, so the warehouse sees the session split.

Identity: sessions before signup (and on a second device before it first logs
in) carry only an ``anonymous_id``; the signup session and a second device's
first login session start anonymous and carry ``user_id`` from the login
event on. Visitors who never sign up browse anonymously throughout.

Events that run past midnight UTC are carried into the next day's file, so each
file holds exactly the events of its UTC day.

Co-purchases: the simulator remembers each customer's last purchase
(``remember_purchases``, given each day's events as exported). A product session
of a customer who bought before ends, with probability
``baseline.complement_share`` of the world specification, on one of that
product's complements (``catalog.Catalog.complements``) instead of a product of
the session's category; the session's cart and purchase, if any, follow its last
product view, so later purchases favour complements of earlier ones. Those draws
come from a stream of their own, one per session whatever the customer's
memory, so no other draw moves. The extra visits a message brings
(``effects``) pick their products as before.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from reengage_dev.demo import catalog as cat
from reengage_dev.demo.clock import (
    DAY_MS,
    MINUTE_MS,
    Window,
    sample_local_ms_of_day,
    utc_offsets_ms,
    weekday_factor,
)
from reengage_dev.demo.population import DECAYING, NEVER, STOPPED, Population, Visitors
from reengage_dev.demo.strings import uuid4_codes

ANON, LOGIN_MID, IDENT = 0, 1, 2  # session identity modes

# Session blocks, in the order events happen inside a session.
BLOCK_EVENT = np.array(
    [
        cat.PAGE_VIEW,  # anonymous page views before a mid-session login
        cat.LOGIN,
        cat.PAGE_VIEW,
        cat.SEARCH,
        cat.PRODUCT_VIEW,
        cat.ADD_TO_CART,
        cat.CHECKOUT_STARTED,
        cat.PURCHASE,
        cat.FORM_SUBMIT,
    ],
    dtype=np.int8,
)
B_PRE, B_LOGIN, B_PAGE, B_SEARCH, B_PRODUCT, B_CART, B_CHECKOUT, B_PURCHASE, B_FORM = range(len(BLOCK_EVENT))

P_LOGIN_WHEN_KNOWN = 0.2  # an identified session that starts with a fresh login
P_SEARCH = 0.25
P_PRODUCT_SESSION = 0.6
P_CHECKOUT = 0.55
P_FORM = 0.04
P_ENTHUSIAST = 0.05  # product sessions that binge one category
P_SECOND_DEVICE_SESSION = 0.35
P_LONG_GAP = 0.025
PRE_SIGNUP_SESSIONS_PER_DAY = 0.3
PRE_SIGNUP_DAYS = 7


def session_active_probability(p_cart: np.ndarray) -> np.ndarray:
    """P(an identified session holds at least one ACTIVE_EVENTS event); used by the truth file."""
    none = (1 - P_PRODUCT_SESSION * p_cart) * (1 - P_FORM)
    return 1.0 - none


def session_purchase_probability(p_cart: np.ndarray, p_buy: np.ndarray) -> np.ndarray:
    return P_PRODUCT_SESSION * p_cart * P_CHECKOUT * p_buy


def customer_rate(
    pop: Population, window: Window, k: int, who: np.ndarray | slice = slice(None)
) -> np.ndarray:
    """Expected sessions on day index k of every customer, or of the customers `who` (k >= days: future)."""
    t = k + 0.5
    signup_ms, lifecycle = pop.signup_ms[who], pop.lifecycle[who]
    signup_rel = (signup_ms - window.start_ms) / DAY_MS
    age = np.maximum(t - signup_rel, 0.0)
    life = np.ones(len(signup_ms))
    life = np.where(
        lifecycle == DECAYING, np.exp(-np.maximum(0.0, t - pop.onset_day[who]) / pop.tau_days[who]), life
    )
    life = np.where(np.isin(lifecycle, (STOPPED, NEVER)), (t < pop.stop_day[who]).astype(float), life)
    weekday = weekday_factor(window.day(k), pop.weekend_factor)
    rate = pop.lam[who] * weekday * (1.0 + 2.0 * np.exp(-age / 5.0)) * life
    return np.where(pop.signup_day[who] <= k, rate, 0.0)


def identified_share(pop: Population, k: int, who: np.ndarray | slice = slice(None)) -> np.ndarray:
    """Share of a customer's sessions on day k that can check out: a second device is anonymous until
    the day it first logs in (``link_day``)."""
    unlinked = pop.has_device2[who] & (k < pop.link_day[who])
    return 1.0 - P_SECOND_DEVICE_SESSION * unlinked


@dataclass
class EventBatch:
    """Events as integer codes; strings are rendered only when a file is written."""

    name: np.ndarray  # int8 index into catalog.EVENT_NAMES
    ts: np.ndarray  # int64 epoch ms
    cust: np.ndarray  # int32 customer index, -1 for visitors
    anon: np.ndarray  # int32 index into the anonymous ids, -1 for none
    identified: np.ndarray  # bool: user_id is filled
    page: np.ndarray  # int32 index into catalog.pages
    product: np.ndarray  # int32, -1 for none
    value: np.ndarray  # float64, NaN for none
    device: np.ndarray  # int8
    channel: np.ndarray  # int8
    event_id: np.ndarray  # (n, 36) uint8 UUID codes
    session_start: np.ndarray  # int64 epoch ms: with cust, names the session (never written out)

    def __len__(self) -> int:
        return len(self.ts)

    def take(self, index: np.ndarray) -> EventBatch:
        return EventBatch(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    @staticmethod
    def concat(batches: list[EventBatch]) -> EventBatch:
        return EventBatch(
            **{f.name: np.concatenate([getattr(b, f.name) for b in batches]) for f in fields(EventBatch)}
        )

    @staticmethod
    def empty() -> EventBatch:
        return EventBatch(
            name=np.zeros(0, np.int8),
            ts=np.zeros(0, np.int64),
            cust=np.zeros(0, np.int32),
            anon=np.zeros(0, np.int32),
            identified=np.zeros(0, bool),
            page=np.zeros(0, np.int32),
            product=np.zeros(0, np.int32),
            value=np.zeros(0, np.float64),
            device=np.zeros(0, np.int8),
            channel=np.zeros(0, np.int8),
            event_id=np.zeros((0, 36), np.uint8),
            session_start=np.zeros(0, np.int64),
        )


@dataclass
class Sessions:
    cust: np.ndarray
    anon: np.ndarray
    mode: np.ndarray
    start: np.ndarray
    device: np.ndarray

    @staticmethod
    def concat(parts: list[Sessions]) -> Sessions:
        return Sessions(
            **{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(Sessions)}
        )


class ActivitySimulator:
    """Streams one UTC day of events at a time; keeps only device-link state and the midnight carry."""

    def __init__(
        self,
        pop: Population,
        visitors: Visitors,
        window: Window,
        catalog: cat.Catalog,
        complement_share: float = 0.0,
    ) -> None:
        self.pop = pop
        self.visitors = visitors
        self.window = window
        self.catalog = catalog
        self.complement_share = complement_share
        self.linked = (pop.link_day < 0) & (pop.signup_day < 0)  # second device already known
        self.carry = EventBatch.empty()
        self.last_bought = np.full(pop.n, -1, np.int32)  # each customer's last purchased product

    def day(self, rng: np.random.Generator, k: int, complements_rng: np.random.Generator) -> EventBatch:
        """All events whose event_ts falls on day k, sorted by time; `complements_rng` draws only
        which sessions end on a complement, and which one."""
        batch = self._expand(rng, self._sessions(rng, k), complements_rng)
        day_end = self.window.day_ms(k) + DAY_MS
        spill = batch.ts >= day_end
        today = EventBatch.concat([self.carry, batch.take(~spill)])
        carry = batch.take(spill & (batch.ts < day_end + DAY_MS))
        self.carry = carry if k + 1 < self.window.days else EventBatch.empty()
        return today.take(np.argsort(today.ts, kind="stable"))

    def remember_purchases(self, events: EventBatch) -> None:
        """Keep each customer's last purchase of `events` (a day's, as exported), for later days."""
        bought = np.flatnonzero((events.name == cat.PURCHASE) & events.identified & (events.cust >= 0))
        order = bought[np.lexsort((events.ts[bought], events.cust[bought]))]
        cust = events.cust[order]
        last = order[np.r_[cust[1:] != cust[:-1], True]] if len(order) else order
        self.last_bought[events.cust[last]] = events.product[last]

    def _starts(self, rng: np.random.Generator, k: int, tz: np.ndarray) -> np.ndarray:
        offsets = utc_offsets_ms(self.window.day(k))
        local = sample_local_ms_of_day(rng, len(tz))
        return self.window.day_ms(k) + np.mod(local - offsets[tz], DAY_MS)

    def _sessions(self, rng: np.random.Generator, k: int) -> Sessions:
        pop, n = self.pop, self.pop.n
        cust = np.repeat(np.arange(n, dtype=np.int32), rng.poisson(customer_rate(pop, self.window, k)))
        start = self._starts(rng, k, pop.tz[cust])
        pre_signup = start < pop.signup_ms[cust]  # signup-day visits before the account existed
        second = pop.has_device2[cust] & (rng.random(len(cust)) < P_SECOND_DEVICE_SESSION) & ~pre_signup
        mode = np.where(pre_signup, ANON, IDENT).astype(np.int8)
        unlinked = second & ~self.linked[cust]
        mode[unlinked & (k < pop.link_day[cust])] = ANON
        candidates = np.flatnonzero(unlinked & (k >= pop.link_day[cust]))
        if candidates.size:
            ordered = candidates[np.lexsort((start[candidates], cust[candidates]))]
            c = cust[ordered]
            first = ordered[np.r_[True, c[1:] != c[:-1]]]
            mode[first] = LOGIN_MID
            self.linked[cust[first]] = True
        regular = Sessions(
            cust=cust,
            anon=np.where(second, cust + n, cust).astype(np.int32),
            mode=mode,
            start=start,
            device=np.where(second, pop.device2[cust], pop.device1[cust]).astype(np.int8),
        )

        ahead = pop.signup_day - k
        soon = np.flatnonzero((ahead >= 1) & (ahead <= PRE_SIGNUP_DAYS)).astype(np.int32)
        pre_cust = np.repeat(soon, rng.poisson(PRE_SIGNUP_SESSIONS_PER_DAY, len(soon)))
        browsing = Sessions(
            cust=pre_cust,
            anon=pre_cust,
            mode=np.full(len(pre_cust), ANON, np.int8),
            start=self._starts(rng, k, pop.tz[pre_cust]),
            device=pop.device1[pre_cust],
        )

        new = np.flatnonzero(pop.signup_day == k).astype(np.int32)
        signup = Sessions(  # starts at signup, so the login that carries user_id never precedes signup_at
            cust=new,
            anon=new,
            mode=np.full(len(new), LOGIN_MID, np.int8),
            start=pop.signup_ms[new],
            device=pop.device1[new],
        )

        vis, t = self.visitors, k + 0.5
        vis_rate = (
            vis.lam
            * ((vis.first_day <= t) & (t < vis.last_day))
            * weekday_factor(self.window.day(k), vis.weekend_factor)
        )
        v = np.repeat(np.arange(vis.n, dtype=np.int32), rng.poisson(vis_rate))
        visiting = Sessions(
            cust=np.full(len(v), -1, np.int32),
            anon=(v + 2 * n).astype(np.int32),
            mode=np.full(len(v), ANON, np.int8),
            start=self._starts(rng, k, vis.tz[v]),
            device=vis.device[v],
        )
        return Sessions.concat([regular, browsing, signup, visiting])

    def _expand(
        self, rng: np.random.Generator, s: Sessions, complements_rng: np.random.Generator
    ) -> EventBatch:
        """Turn sessions into ordered funnel events (one numpy pass over all sessions of the day)."""
        pop, catalog = self.pop, self.catalog
        count = len(s.start)
        if count == 0:
            return EventBatch.empty()
        known = s.cust >= 0
        safe = np.where(known, s.cust, 0)
        n_cat = len(cat.CATEGORIES)
        p_cart = np.where(known, pop.p_cart[safe], 0.12)
        p_buy = np.where(known, pop.p_buy[safe], 0.0)
        pref = np.where(known, pop.pref_category[safe], rng.choice(n_cat, count, p=cat.CATEGORY_WEIGHTS))
        session_cat = np.where(
            rng.random(count) < 0.6, pref, rng.choice(n_cat, count, p=cat.CATEGORY_WEIGHTS)
        )
        login_mid, ident, anon = s.mode == LOGIN_MID, s.mode == IDENT, s.mode == ANON

        counts = np.zeros((count, len(BLOCK_EVENT)), dtype=np.int64)
        counts[:, B_PRE] = np.where(login_mid, rng.geometric(0.6, count), 0)
        counts[:, B_LOGIN] = login_mid | (ident & (rng.random(count) < P_LOGIN_WHEN_KNOWN))
        counts[:, B_PAGE] = rng.geometric(0.5, count) - login_mid
        counts[:, B_SEARCH] = rng.random(count) < P_SEARCH
        browsing = rng.random(count) < P_PRODUCT_SESSION
        enthusiast = browsing & (rng.random(count) < P_ENTHUSIAST)
        counts[:, B_PRODUCT] = np.where(
            enthusiast, 5 + rng.poisson(3, count), browsing * (1 + rng.poisson(1.6, count))
        )
        cart = browsing & (rng.random(count) < p_cart)
        checkout = cart & ~anon & (rng.random(count) < P_CHECKOUT)
        counts[:, B_CART] = cart
        counts[:, B_CHECKOUT] = checkout
        counts[:, B_PURCHASE] = checkout & (rng.random(count) < p_buy)
        counts[:, B_FORM] = rng.random(count) < P_FORM

        per_session = counts.sum(axis=1)
        block = np.repeat(np.tile(np.arange(len(BLOCK_EVENT), dtype=np.int8), count), counts.ravel())
        sess = np.repeat(np.arange(count), per_session)
        first = np.cumsum(per_session) - per_session
        total = len(sess)

        product_ev = block == B_PRODUCT
        binge = enthusiast[sess] & product_ev
        gap = np.where(
            binge, rng.lognormal(np.log(25_000), 0.5, total), rng.lognormal(np.log(20_000), 1.1, total)
        )
        gap = np.clip(gap, 800, 20 * MINUTE_MS)
        long_gap = (rng.random(total) < P_LONG_GAP) & ~binge
        gap = np.where(long_gap, rng.uniform(31, 150, total) * MINUTE_MS, gap).astype(np.int64)
        gap[first] = 0
        elapsed = np.cumsum(gap)
        ts = s.start[sess] + elapsed - elapsed[first][sess]

        product = np.full(total, -1, dtype=np.int32)
        pv = np.flatnonzero(product_ev)
        stray = rng.random(len(pv)) >= 0.7
        ev_cat = np.where(
            enthusiast[sess[pv]] | ~stray,
            session_cat[sess[pv]],
            rng.choice(n_cat, len(pv), p=cat.CATEGORY_WEIGHTS),
        )
        product[pv] = catalog.sample_product(rng, ev_cat)
        last_view = first + counts[:, : B_PRODUCT + 1].sum(axis=1) - 1
        remembered = np.where(known, self.last_bought[safe], -1)
        complement = self._complement_sessions(complements_rng, remembered, counts[:, B_PRODUCT] > 0)
        product[last_view[complement >= 0]] = complement[complement >= 0]
        funnel = np.flatnonzero((block >= B_CART) & (block <= B_PURCHASE))
        product[funnel] = product[last_view[sess[funnel]]]

        quantity = rng.choice(np.array([1, 2, 3]), count, p=[0.8, 0.15, 0.05])
        value = np.full(total, np.nan)
        priced = np.flatnonzero((block == B_CART) | (block == B_PURCHASE))
        value[priced] = np.round(catalog.price[product[priced]] * quantity[sess[priced]], 2)

        page = np.empty(total, dtype=np.int32)
        views = np.flatnonzero((block == B_PRE) | (block == B_PAGE))
        pick = rng.random(len(views))
        page[views] = np.where(
            pick < 0.4,
            0,
            np.where(
                pick < 0.75,
                catalog.category_page_base + session_cat[sess[views]],
                rng.integers(1, len(cat.GENERAL_PAGES), len(views)),
            ),
        )
        page[block == B_LOGIN] = cat.PAGE_LOGIN
        page[block == B_SEARCH] = cat.PAGE_SEARCH
        page[pv] = catalog.product_page_base + product[pv]
        page[block == B_CART] = cat.PAGE_CART
        page[block == B_CHECKOUT] = cat.PAGE_CHECKOUT
        page[block == B_PURCHASE] = cat.PAGE_PURCHASE
        forms = np.flatnonzero(block == B_FORM)
        page[forms] = cat.PAGE_FORMS + rng.integers(0, len(cat.FORM_PAGES), len(forms))

        mode = s.mode[sess]
        channel = rng.choice(len(cat.CHANNEL_WEIGHTS), count, p=cat.CHANNEL_WEIGHTS).astype(np.int8)
        return EventBatch(
            name=BLOCK_EVENT[block],
            ts=ts,
            cust=s.cust[sess],
            anon=s.anon[sess],
            identified=(mode == IDENT) | ((mode == LOGIN_MID) & (block >= B_LOGIN)),
            page=page,
            product=product,
            value=value,
            device=s.device[sess],
            channel=channel[sess],
            event_id=uuid4_codes(rng, total),
            session_start=s.start[sess],
        )

    def _complement_sessions(
        self, rng: np.random.Generator, remembered: np.ndarray, browsing: np.ndarray
    ) -> np.ndarray:
        """Per session, the complement of the customer's last purchase its last product view turns
        to, or -1. Two draws per session whoever it is, so memory moves no other draw."""
        count = len(remembered)
        turns = rng.random(count) < self.complement_share
        pick = rng.integers(0, cat.COMPLEMENTS_PER_PRODUCT, count)
        chosen = self.catalog.complements[np.maximum(remembered, 0), pick]
        return np.where(turns & browsing & (remembered >= 0), chosen, -1).astype(np.int32)
