"""SendGrid Event Webhook history of the legacy weekly newsletter, as the provider exports it.

Before the pipeline existed the company mailed a ``legacy_newsletter`` every
Tuesday at 14:00 UTC to list members who consent, excluding anyone who had
unsubscribed or reported spam. Per message: ``processed`` within an hour of the
send, then ``dropped`` (address bounced before: the old tool kept mailing it),
``bounce`` (a dead mailbox, first time), or ``delivered`` (a few after a
``deferred``); then ``open`` with the customer's true open rate (some open
twice), ``click`` given open, ``unsubscribe``/``group_unsubscribe`` and
``spamreport`` with their true rates. Responses land within six days, so
every message's events are known before the next send. An ``unsubscribe``
also withdraws marketing consent in the CRM the same day. The newsletter
stops when the pipeline takes over (the responding world's sending days);
its last events still arrive.

``draw_webhook_events`` is what happens to any message after it is sent; the
responding world draws the pipeline's mail with it too (``responses``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, fields

import numpy as np

from reengage.defs.ingest.contracts import EMAIL_EVENT_TYPES
from reengage_dev.demo.clock import DAY_MS, HOUR_MS, MINUTE_MS, Window
from reengage_dev.demo.population import Population
from reengage_dev.demo.strings import token_codes

CAMPAIGN_ID = "legacy_newsletter"
SEND_WEEKDAY = 1  # Tuesday
SEND_HOUR = 14
VARIANTS = ("a", "b")
EMAIL_EVENTS = EMAIL_EVENT_TYPES
PROCESSED, DELIVERED, OPEN, CLICK, BOUNCE, DROPPED, DEFERRED, SPAMREPORT, UNSUBSCRIBE, GROUP_UNSUBSCRIBE = (
    range(10)
)
REASONS = ("550 5.1.1 The email account that you tried to reach does not exist.", "Bounced Address")
BOUNCE_REASON, DROPPED_REASON = 0, 1
MAX_RESPONSE_MS = 6 * DAY_MS - 1


@dataclass
class EmailBatch:
    """Webhook events as codes; ids are kept as ASCII code matrices so duplicates copy them."""

    cust: np.ndarray  # int32
    event: np.ndarray  # int8 index into EMAIL_EVENTS
    ts_ms: np.ndarray  # int64
    reason: np.ndarray  # int8 index into REASONS, -1 for none
    run_day: np.ndarray  # int32 day index of the send
    campaign: np.ndarray  # int16 index into the world's campaign names (0: the legacy newsletter)
    variant: np.ndarray  # int16 index into the world's variant names
    message_id: np.ndarray  # (n, 38) uint8
    send_id: np.ndarray  # (n, 32) uint8
    event_id: np.ndarray  # (n, 22) uint8

    def __len__(self) -> int:
        return len(self.ts_ms)

    def take(self, index: np.ndarray) -> EmailBatch:
        return EmailBatch(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    @staticmethod
    def concat(batches: list[EmailBatch]) -> EmailBatch:
        return EmailBatch(
            **{f.name: np.concatenate([getattr(b, f.name) for b in batches]) for f in fields(EmailBatch)}
        )

    @staticmethod
    def empty() -> EmailBatch:
        return EmailBatch(
            cust=np.zeros(0, np.int32),
            event=np.zeros(0, np.int8),
            ts_ms=np.zeros(0, np.int64),
            reason=np.zeros(0, np.int8),
            run_day=np.zeros(0, np.int32),
            campaign=np.zeros(0, np.int16),
            variant=np.zeros(0, np.int16),
            message_id=np.zeros((0, 38), np.uint8),
            send_id=np.zeros((0, 32), np.uint8),
            event_id=np.zeros((0, 22), np.uint8),
        )


def _hex_codes(rng: np.random.Generator, n: int, width: int) -> np.ndarray:
    return np.frombuffer(b"0123456789abcdef", np.uint8)[rng.integers(0, 16, size=(n, width))]


def _delay(rng, n: int, median_ms: float, sigma: float) -> np.ndarray:
    return np.minimum(rng.lognormal(np.log(median_ms), sigma, n), MAX_RESPONSE_MS / 2).astype(np.int64)


@dataclass
class WebhookDraw:
    """The webhook events of m messages: one row per event (``who`` is the message's position)."""

    who: np.ndarray
    slot: np.ndarray  # which of the message's possible events (0 processed .. 10 spamreport): with
    # the message, it names the event, so keyed event ids follow from it
    event: np.ndarray
    ts_ms: np.ndarray
    reason: np.ndarray
    delivered: np.ndarray  # per message
    bounced: np.ndarray
    dropped: np.ndarray
    opened: np.ndarray
    clicked: np.ndarray
    unsubscribed: np.ndarray  # unsubscribe or group_unsubscribe
    group: np.ndarray  # the unsubscribe was a group_unsubscribe
    unsubscribed_at: np.ndarray
    spam_reported: np.ndarray
    delivered_at: np.ndarray


def draw_webhook_events(
    rng,
    send_ms: np.ndarray,
    rates: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    dead_mailbox: np.ndarray,
    bounced_before: np.ndarray,
    *,
    processing_ms: int,
    deferred_share: float,
) -> WebhookDraw:
    """What happens to each message after it is sent, as Event Webhook events.

    `rng` is a numpy Generator (the newsletter) or ``keyed.KeyedDraws`` (campaign mail, one key
    per message). `rates` are each message's P(open), P(click), P(unsubscribe), P(spam report);
    a click needs an open, so P(click | open) = click / open. Responses stop six days after the send.
    """
    m = len(send_ms)
    open_rate, click_rate, unsubscribe_rate, spam_rate = (np.minimum(r, 1.0) for r in rates)
    processed = send_ms + rng.integers(0, processing_ms, m)
    dropped = bounced_before
    bounce = ~dropped & dead_mailbox
    ok = ~dropped & ~bounce
    deferred = ok & (rng.random(m) < deferred_share)
    delivered = processed + np.where(
        deferred, rng.integers(5 * MINUTE_MS, 90 * MINUTE_MS, m), rng.integers(1000, 20_000, m)
    )
    opened = ok & (rng.random(m) < open_rate)
    opened_at = delivered + _delay(rng, m, 2.5 * HOUR_MS, 1.3)
    reopened = opened & (rng.random(m) < 0.25)
    reopened_at = opened_at + _delay(rng, m, 6 * HOUR_MS, 1.0)
    clicked = opened & (rng.random(m) < click_rate / np.maximum(open_rate, 1e-12))
    clicked_at = opened_at + _delay(rng, m, 40_000, 1.0)
    unsub = ok & (rng.random(m) < unsubscribe_rate)
    group = rng.random(m) < 0.3
    unsub_at = np.minimum(
        np.where(opened, opened_at, delivered) + _delay(rng, m, 60_000, 1.0), send_ms + MAX_RESPONSE_MS
    )
    spam = ok & (rng.random(m) < spam_rate)
    spam_at = delivered + _delay(rng, m, 3 * HOUR_MS, 1.0)

    parts = [
        (np.ones(m, bool), PROCESSED, processed, -1),
        (dropped, DROPPED, processed + 500, DROPPED_REASON),
        (bounce, BOUNCE, processed + rng.integers(1000, 30_000, m), BOUNCE_REASON),
        (deferred, DEFERRED, processed + 2000, -1),
        (ok, DELIVERED, delivered, -1),
        (opened, OPEN, opened_at, -1),
        (reopened, OPEN, reopened_at, -1),
        (clicked, CLICK, clicked_at, -1),
        (unsub & ~group, UNSUBSCRIBE, unsub_at, -1),
        (unsub & group, GROUP_UNSUBSCRIBE, unsub_at, -1),
        (spam, SPAMREPORT, spam_at, -1),
    ]
    who = np.concatenate([np.flatnonzero(mask) for mask, *_ in parts])
    sizes = [int(mask.sum()) for mask, *_ in parts]
    return WebhookDraw(
        who=who,
        slot=np.repeat(np.arange(len(parts)), sizes),
        event=np.repeat(np.array([p[1] for p in parts], np.int8), sizes),
        ts_ms=np.minimum(np.concatenate([p[2][p[0]] for p in parts]), send_ms[who] + MAX_RESPONSE_MS),
        reason=np.repeat(np.array([p[3] for p in parts], np.int8), sizes),
        delivered=ok,
        bounced=bounce,
        dropped=dropped,
        opened=opened,
        clicked=clicked,
        unsubscribed=unsub,
        group=group,
        unsubscribed_at=unsub_at,
        spam_reported=spam,
        delivered_at=delivered,
    )


class Newsletter:
    """Sends on Tuesdays, buffers each message's future events by the UTC day they happen."""

    def __init__(self, pop: Population, window: Window, deferred_share: float, last_send_day: int) -> None:
        self.pop = pop
        self.window = window
        self.deferred_share = deferred_share
        self.last_send_day = last_send_day  # the pipeline took over after it
        self.suppressed = np.zeros(pop.n, bool)  # unsubscribed or reported spam
        self.bounced = np.zeros(pop.n, bool)
        self.pending: dict[int, list[EmailBatch]] = defaultdict(list)
        self.consent_withdrawals: dict[int, list[tuple[np.ndarray, np.ndarray]]] = defaultdict(list)
        self.messages = 0

    def is_send_day(self, k: int) -> bool:
        return k <= self.last_send_day and self.window.day(k).weekday() == SEND_WEEKDAY

    def send(self, rng: np.random.Generator, k: int, consent: np.ndarray) -> None:
        """Mail every eligible member on day k and schedule the resulting webhook events."""
        pop = self.pop
        send_ms = self.window.day_ms(k) + SEND_HOUR * HOUR_MS
        eligible = pop.newsletter_member & consent & (pop.signup_ms < send_ms) & ~self.suppressed
        rec = np.flatnonzero(eligible).astype(np.int32)
        m = len(rec)
        self.messages += m
        rates = (pop.open_rate[rec], pop.click_rate[rec], pop.unsubscribe_rate[rec], pop.spam_rate[rec])
        drawn = draw_webhook_events(
            rng,
            np.full(m, send_ms, np.int64),
            rates,
            pop.dead_mailbox[rec],
            self.bounced[rec],
            processing_ms=HOUR_MS,  # a bulk send goes out over an hour
            deferred_share=self.deferred_share,
        )
        who = drawn.who
        message_id = token_codes(rng, m, 22, suffix=b".filterdrecv-1.0")
        send_id = _hex_codes(rng, m, 32)
        variant = rng.integers(0, len(VARIANTS), m).astype(np.int16)
        batch = EmailBatch(
            cust=rec[who],
            event=drawn.event,
            ts_ms=drawn.ts_ms,
            reason=drawn.reason,
            run_day=np.full(len(who), k, np.int32),
            campaign=np.zeros(len(who), np.int16),
            variant=variant[who],
            message_id=message_id[who],
            send_id=send_id[who],
            event_id=token_codes(rng, len(who), 22),
        )
        day = (drawn.ts_ms - self.window.start_ms) // DAY_MS
        for d in np.unique(day[day < self.window.days]):
            self.pending[int(d)].append(batch.take(np.flatnonzero(day == d)))

        self.bounced[rec[drawn.bounced]] = True
        self.suppressed[rec[drawn.unsubscribed | drawn.spam_reported]] = True
        real_unsub = drawn.unsubscribed & ~drawn.group
        unsub_at = drawn.unsubscribed_at
        unsub_day = (unsub_at - self.window.start_ms) // DAY_MS
        for d in np.unique(unsub_day[real_unsub & (unsub_day < self.window.days)]):
            chosen = real_unsub & (unsub_day == d)
            self.consent_withdrawals[int(d)].append((rec[chosen], unsub_at[chosen] // 1000 * 1000))

    def withdrawals_on(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(customer index, epoch ms) of newsletter unsubscribes on day k, for the CRM."""
        found = self.consent_withdrawals.pop(k, [])
        if not found:
            return np.zeros(0, np.int32), np.zeros(0, np.int64)
        return np.concatenate([c for c, _ in found]), np.concatenate([t for _, t in found])

    def events_on(self, k: int) -> EmailBatch:
        """Every webhook event whose timestamp falls on day k, in time order."""
        batches = self.pending.pop(k, [])
        if not batches:
            return EmailBatch.empty()
        batch = EmailBatch.concat(batches)
        return batch.take(np.argsort(batch.ts_ms // 1000, kind="stable"))
