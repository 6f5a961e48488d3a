"""How delivered messages change behaviour: extra purchase visits, and users put off their own visits.

A delivered message with ``extra_purchases`` x responsiveness = x > 0 brings
Poisson(x) extra visits from the email: each lands at a truncated-exponential
delay (mean ``mean_delay_days``) after the effect starts and before it ends,
and walks page_view (the favourite category's page), one to three
product_views, add_to_cart, checkout_started and purchase, logged in, on the
user's first device, with channel ``email`` (``sms`` for a text's). A message with
``activity_factor`` f < 1 keeps each of the user's own sessions that starts
while the effect lasts with probability f (several such messages multiply).

The effect starts at the next UTC day (that day's exports were already
written when the message went out) or at the send, if later, and ends
``duration_days`` after the send. Every draw is keyed (``keyed``): by the
message's send id, the visit's number, the event's number, or the user and
session start for thinning, so one user's messages never move another user's
numbers. ``truth.conversion_probabilities`` states the same model in closed form.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from reengage_dev.demo import catalog as cat
from reengage_dev.demo.activity import EventBatch
from reengage_dev.demo.clock import DAY_MS, MINUTE_MS, Window
from reengage_dev.demo.keyed import KeyedDraws, combine
from reengage_dev.demo.population import Population
from reengage_dev.demo.strings import uuid4_codes
from reengage_dev.demo.truth import SentEffect

EMAIL_CHANNEL = cat.CHANNELS.index("email")
SMS_CHANNEL = cat.CHANNELS.index("sms")
MAX_PRODUCT_VIEWS = 3


@dataclass(frozen=True)
class Visits:
    """Extra visits to build: who, when, and the key their draws hang off."""

    cust: np.ndarray
    start_ms: np.ndarray
    key: np.ndarray


def draw_visits(
    seed: int, message_key: np.ndarray, cust: np.ndarray, sent: SentEffect, mean_delay_ms: float
) -> Visits:
    """How many extra visits each message brings (Poisson(extra)) and when each one starts."""
    count = KeyedDraws(seed, "visits", message_key).poisson(np.where(sent.delivered, sent.extra, 0.0))
    owner = np.repeat(np.arange(len(message_key)), count)
    number = np.arange(len(owner)) - np.repeat(np.cumsum(count) - count, count)
    key = combine(message_key[owner], number + 1)
    span = np.maximum(sent.end_ms[owner] - sent.start_ms[owner], 1).astype(np.float64)
    u = KeyedDraws(seed, "visits", key).random(len(key))
    delay = -mean_delay_ms * np.log1p(u * np.expm1(-span / mean_delay_ms))  # inverse CDF, truncated
    start = sent.start_ms[owner] + np.minimum(delay, span - 1).astype(np.int64)
    return Visits(cust=cust[owner].astype(np.int32), start_ms=start, key=key)


def build_visits(
    seed: int, visits: Visits, pop: Population, catalog: cat.Catalog, channel: int = EMAIL_CHANNEL
) -> EventBatch:
    """The events of the extra visits: landing page, product views, cart, checkout, purchase;
    `channel` (an index into ``catalog.CHANNELS``) names what brought them."""
    v = len(visits.key)
    if v == 0:
        return EventBatch.empty()
    draws = KeyedDraws(seed, "visit_shape", visits.key)
    views = draws.integers(1, MAX_PRODUCT_VIEWS + 1, v)
    favourite = draws.random(v) < 0.6
    category = np.where(
        favourite,
        pop.pref_category[visits.cust],
        draws.choice(len(cat.CATEGORIES), v, p=cat.CATEGORY_WEIGHTS),
    )
    quantity = draws.choice(3, v, p=np.array([0.8, 0.15, 0.05])) + 1

    names = [cat.PAGE_VIEW, cat.PRODUCT_VIEW, cat.ADD_TO_CART, cat.CHECKOUT_STARTED, cat.PURCHASE]
    per_block = np.stack([np.ones(v, np.int64), views, *(np.ones(v, np.int64),) * 3], axis=1)
    per_visit = per_block.sum(axis=1)
    block = np.repeat(np.tile(np.arange(len(names)), v), per_block.ravel())
    visit = np.repeat(np.arange(v), per_visit)
    first = np.cumsum(per_visit) - per_visit
    position = np.arange(len(visit)) - first[visit]
    event = KeyedDraws(seed, "visit_events", combine(visits.key[visit], position))

    gap = np.clip(event.lognormal(np.log(20_000), 1.1, len(visit)), 800, 20 * MINUTE_MS).astype(np.int64)
    gap[first] = 0
    elapsed = np.cumsum(gap)
    ts = visits.start_ms[visit] + elapsed - elapsed[first][visit]

    rank = np.floor(cat.PRODUCTS_PER_CATEGORY * event.random(len(visit)) ** 2.2).astype(np.int32)
    product = np.full(len(visit), -1, np.int32)
    viewed = np.flatnonzero(block == 1)
    product[viewed] = category[visit[viewed]].astype(np.int32) * cat.PRODUCTS_PER_CATEGORY + rank[viewed]
    last_view = first + 1 + views - 1
    funnel = np.flatnonzero(block >= 2)
    product[funnel] = product[last_view[visit[funnel]]]
    value = np.full(len(visit), np.nan)
    priced = np.flatnonzero((block == 2) | (block == 4))
    value[priced] = np.round(catalog.price[product[priced]] * quantity[visit[priced]], 2)

    pages = np.array([0, 0, cat.PAGE_CART, cat.PAGE_CHECKOUT, cat.PAGE_PURCHASE], np.int32)
    page = pages[block]
    landing = block == 0
    page[landing] = catalog.category_page_base + category[visit[landing]]
    page[viewed] = catalog.product_page_base + product[viewed]

    cust = visits.cust[visit]
    return EventBatch(
        name=np.array(names, np.int8)[block],
        ts=ts,
        cust=cust,
        anon=cust.astype(np.int32),
        identified=np.ones(len(visit), bool),
        page=page,
        product=product,
        value=value,
        device=pop.device1[cust],
        channel=np.full(len(visit), channel, np.int8),
        event_id=uuid4_codes(event, len(visit)),
        session_start=visits.start_ms[visit],
    )


class BehaviourChanges:
    """The world's memory of message effects still to come: pending visits and thinning intervals."""

    def __init__(self, seed: int, pop: Population, window: Window, catalog: cat.Catalog) -> None:
        self.seed = seed
        self.pop = pop
        self.window = window
        self.catalog = catalog
        self.pending: dict[int, list[EventBatch]] = defaultdict(list)
        self.cust = np.zeros(0, np.int32)  # thinning intervals [start, end) with their factor
        self.start = np.zeros(0, np.int64)
        self.end = np.zeros(0, np.int64)
        self.log_factor = np.zeros(0, np.float64)

    def add(
        self,
        message_key: np.ndarray,
        cust: np.ndarray,
        sent: SentEffect,
        mean_delay_ms: float,
        channel: int = EMAIL_CHANNEL,
    ) -> int:
        """Schedule the messages' extra visits and thinning; returns the number of extra visits."""
        visits = draw_visits(self.seed, message_key, cust, sent, mean_delay_ms)
        events = build_visits(self.seed, visits, self.pop, self.catalog, channel)
        day = (events.ts - self.window.start_ms) // DAY_MS
        for d in np.unique(day[day < self.window.days]):
            self.pending[int(d)].append(events.take(np.flatnonzero(day == d)))
        thin = sent.delivered & (sent.factor < 1.0)
        with np.errstate(divide="ignore"):  # a factor of 0 stops every session: log 0 = -inf
            self.log_factor = np.concatenate([self.log_factor, np.log(sent.factor[thin])])
        self.cust = np.concatenate([self.cust, cust[thin].astype(np.int32)])
        self.start = np.concatenate([self.start, sent.start_ms[thin]])
        self.end = np.concatenate([self.end, sent.end_ms[thin]])
        return len(visits.key)

    def apply(self, k: int, baseline: EventBatch) -> EventBatch:
        """Day k's events: the baseline without the sessions messages put off, plus the extra visits."""
        live = self.end > self.window.day_ms(k) - DAY_MS  # a carried session may have started yesterday
        self.cust, self.start, self.end, self.log_factor = (
            a[live] for a in (self.cust, self.start, self.end, self.log_factor)
        )
        events = baseline.take(np.flatnonzero(self._kept(baseline))) if len(self.cust) else baseline
        extra = self.pending.pop(k, [])
        if not extra:
            return events
        merged = EventBatch.concat([events, *extra])
        return merged.take(np.argsort(merged.ts, kind="stable"))

    def _kept(self, batch: EventBatch) -> np.ndarray:
        """Whether each event's session survives the thinning intervals that cover its start."""
        keep = np.ones(len(batch), bool)
        touched = np.flatnonzero(np.isin(batch.cust, self.cust))
        if not len(touched):
            return keep
        order = np.argsort(self.cust, kind="stable")
        owners = self.cust[order]
        cust = batch.cust[touched]
        lo, hi = np.searchsorted(owners, cust, "left"), np.searchsorted(owners, cust, "right")
        counts = hi - lo
        pair_event = np.repeat(np.arange(len(touched)), counts)
        offset = np.arange(len(pair_event)) - np.repeat(np.cumsum(counts) - counts, counts)
        pair_interval = order[np.repeat(lo, counts) + offset]
        begins = batch.session_start[touched][pair_event]
        covers = (self.start[pair_interval] <= begins) & (begins < self.end[pair_interval])
        log_keep = np.bincount(
            pair_event, weights=np.where(covers, self.log_factor[pair_interval], 0.0), minlength=len(touched)
        )
        session = combine(cust, batch.session_start[touched])
        u = KeyedDraws(self.seed, "thinning", session).random(len(touched))
        keep[touched] = u < np.exp(log_keep)
        return keep
