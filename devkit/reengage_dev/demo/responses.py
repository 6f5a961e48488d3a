"""The recipients' side of the pipeline's mail: what the provider accepted, and how each recipient reacts.

``read_accepted`` takes a run date's messages from the local sink's store
(the provider's record: recipient, campaign, variant, scheduled time and the
custom args the pipeline attached, and whether its template data showed the
user's own items). ``draw_reactions`` answers each one from the recipient's
hidden truth and the world specification's effect for its campaign, variant
and the recipient's kind (times ``effects.personal_content`` for a message
that showed the user's own items): the webhook events (as the
newsletter's, ``newsletter.draw_webhook_events``, with the cell's open, click,
unsubscribe and spam factors, processed within a minute of the send) and the
change in behaviour (``effects``). Every draw is keyed by the send id, so the
same decisions give the same answers and one message never changes another's.

The world names each message itself (``sg_message_id`` from the seed and the
send id): the sink's X-Message-Id is random per request, and the same
decisions must give byte-identical exports.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import date
from typing import Any

import numpy as np

from reengage.defs.interventions.blocks import fallback_variable
from reengage_dev.demo.clock import DAY_MS, MINUTE_MS
from reengage_dev.demo.keyed import KeyedDraws, codes_key, combine
from reengage_dev.demo.newsletter import WebhookDraw, draw_webhook_events
from reengage_dev.demo.population import Population
from reengage_dev.demo.spec import Effect, WorldSpec
from reengage_dev.demo.strings import token_codes
from reengage_dev.demo.truth import SentEffect
from reengage_dev.sink.store import SinkStore

SEND_ID_WIDTH = 32
MESSAGE_SUFFIX = b".filterdrecv-1.0"


@dataclass(frozen=True)
class Accepted:
    """One run date's accepted messages, in the order the sink stored them."""

    cust: np.ndarray  # int32 customer index
    send_ms: np.ndarray  # int64: the scheduled time (send_at), or when the sink took it
    send_id: np.ndarray  # (n, 32) uint8 codes
    campaign: list[str]
    variant: list[str]
    # bool: the message showed the user's own items (``shows_own_items``); None: none did (texts)
    personal: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.cust)

    def key(self) -> np.ndarray:
        return codes_key(self.send_id)

    def take(self, index: np.ndarray) -> Accepted:
        return Accepted(
            cust=self.cust[index],
            send_ms=self.send_ms[index],
            send_id=self.send_id[index],
            campaign=[self.campaign[i] for i in index],
            variant=[self.variant[i] for i in index],
            personal=None if self.personal is None else self.personal[index],
        )

    def shows_own_items(self) -> np.ndarray:
        return np.zeros(len(self), bool) if self.personal is None else self.personal


def customer_index(customer_ids: list[str], pop: Population) -> np.ndarray:
    """Each id's position in the population (ids are ``cus_`` and the zero-padded number)."""
    width = len(pop.customer_id[0].as_py()) - 4 if pop.n else 0
    index = np.empty(len(customer_ids), np.int64)
    for i, text in enumerate(customer_ids):
        number = text[4:]
        if not (text.startswith("cus_") and len(number) == width and number.isdigit()) or not (
            0 < int(number) <= pop.n
        ):
            raise ValueError(
                f"the sink's store holds a message to customer {text!r}, who is not in this world "
                "(a store left from another world? start the demo from an empty home)"
            )
        index[i] = int(number) - 1
    return index


def shows_own_items(template_data: Mapping[str, Any] | None) -> bool:
    """Whether a message's dynamic template data shows the user's own items: a block (a key with
    its ``<block>_fallback`` beside it) that holds something and is not the generic fallback.

    A message rendered by the pipeline (a Jinja body) has no template data: what it shows is
    already text, so it never counts as personal."""
    if not template_data:
        return False
    for key, value in template_data.items():
        flag = template_data.get(fallback_variable(key))
        if flag is False and value not in (None, [], {}):
            return True
    return False


def read_accepted(store: SinkStore, run_date: date, pop: Population) -> Accepted:
    """The messages the provider accepted for `run_date` (cancelled, paused and sandbox ones never go out)."""
    messages = store.messages(status="accepted", run_date=run_date.isoformat(), include_paused=False)
    send_ids = [m.send_id or "" for m in messages]
    bad = [s for s in send_ids if len(s) != SEND_ID_WIDTH or not s.isascii()]
    if bad:
        raise ValueError(f"the sink holds messages without a {SEND_ID_WIDTH}-character send_id custom arg")
    codes = np.frombuffer("".join(send_ids).encode("ascii"), np.uint8).reshape(len(messages), SEND_ID_WIDTH)
    return Accepted(
        cust=customer_index([m.customer_id or "" for m in messages], pop).astype(np.int32),
        send_ms=np.array(
            [(m.send_at if m.send_at is not None else int(m.received_at)) * 1000 for m in messages], np.int64
        ),
        send_id=codes,
        campaign=[m.campaign_id or "" for m in messages],
        variant=[m.variant or "" for m in messages],
        personal=np.array([shows_own_items(m.template_data) for m in messages], bool),
    )


def effects_of(spec: WorldSpec, accepted: Accepted, kind: np.ndarray) -> dict[str, np.ndarray]:
    """Each message's effect fields, looked up per (campaign, variant) and the recipient's kind."""
    out = {f.name: np.empty(len(accepted)) for f in fields(Effect)}
    pairs: dict[tuple[str, str], list[int]] = {}
    for i, pair in enumerate(zip(accepted.campaign, accepted.variant, strict=True)):
        pairs.setdefault(pair, []).append(i)
    for (campaign, variant), rows in pairs.items():
        cells = spec.effects.by_kind(campaign, variant)
        rows_array = np.array(rows)
        for name in out:
            by_kind = np.array([getattr(cell, name) for cell in cells])
            out[name][rows_array] = by_kind[kind[rows_array]]
    return out


@dataclass(frozen=True)
class Reactions:
    """Everything drawn for one day's messages, for the exports and the truth."""

    webhook: WebhookDraw
    message_id: np.ndarray  # (m, 38) codes
    event_id: np.ndarray  # (events, 22) codes
    effect: dict[str, np.ndarray]
    sent: SentEffect


def draw_reactions(
    seed: int, spec: WorldSpec, pop: Population, accepted: Accepted, bounced: np.ndarray, effect_from_ms: int
) -> Reactions:
    """Webhook events and behaviour changes of `accepted` (see the module docstring).

    `bounced`: the provider's list of addresses that bounced before (their mail is dropped);
    `effect_from_ms`: the first instant whose exports are not written yet.
    """
    m, cust, key = len(accepted), accepted.cust, accepted.key()
    effect = effects_of(spec, accepted, pop.kind[cust])
    open_rate = np.minimum(pop.open_rate[cust] * effect["open_factor"], 1.0)
    click_given_open = np.minimum(pop.click_rate[cust] / pop.open_rate[cust] * effect["click_factor"], 1.0)
    rates = (
        open_rate,
        open_rate * click_given_open,
        pop.unsubscribe_rate[cust] * effect["unsubscribe_factor"],
        pop.spam_rate[cust] * effect["spam_factor"],
    )
    draws = KeyedDraws(seed, "messages", key)
    webhook = draw_webhook_events(
        draws,
        accepted.send_ms,
        rates,
        pop.dead_mailbox[cust],
        bounced[cust],
        processing_ms=MINUTE_MS,
        deferred_share=spec.email.deferred_share,
    )
    message_id = token_codes(draws, m, 22, suffix=MESSAGE_SUFFIX)
    events = KeyedDraws(seed, "events", combine(key[webhook.who], webhook.slot))
    # Personal content multiplies what the cell brings: the truth's extra is behaviour's extra.
    personal = np.where(accepted.shows_own_items(), spec.effects.personal_content_factor, 1.0)
    sent = SentEffect(
        start_ms=np.maximum(accepted.send_ms, effect_from_ms),
        end_ms=accepted.send_ms + int(spec.effects.duration_days * DAY_MS),
        extra=effect["extra_purchases"] * personal * pop.responsiveness[cust],
        factor=effect["activity_factor"],
        delivered=webhook.delivered,
    )
    return Reactions(
        webhook=webhook,
        message_id=message_id,
        event_id=token_codes(events, len(webhook.who), 22),
        effect=effect,
        sent=sent,
    )
