"""Event Webhook records for mail the sink accepted, drawn from known true rates.

The demo needs responses whose truth is known, so measurement can be checked
against it. Each accepted (not cancelled, not paused, not sandbox) message gets
its own random stream seeded by `(seed, sg_message_id)`: the same store and seed
always give the same events, and adding messages never changes earlier draws.

Draws per delivered message: open ~ Bernoulli(open_rate); click only after an
open, with P(click | open) = min(1, click_rate / open_rate), so P(click) equals
click_rate whenever click_rate <= open_rate; unsubscribe ~ Bernoulli(unsubscribe_rate)
and spamreport ~ Bernoulli(spamreport_rate), independent of opens. A share
`bounce_rate` bounces instead of being delivered, so observed rates are the true
rates times (1 - bounce_rate).

Files follow the landing contract: `{landing}/email_events/email_events_{YYYY-MM-DD}.jsonl`,
one file per UTC day of the event timestamp, merged by `sg_event_id`
(reengage_dev/provider_sink/daily_files.py): a rerun neither loses earlier records nor
duplicates its own.
"""

from __future__ import annotations

import base64
import hashlib
import random
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from reengage_dev.provider_sink.daily_files import EventExport, merge_daily
from reengage_dev.sink.store import SinkStore, StoredMessage

BOUNCE_REASONS = (
    "550 5.1.1 The email account that you tried to reach does not exist.",
    "552 5.2.2 The email account that you tried to reach is over quota.",
    "550 5.7.1 Message rejected by recipient policy.",
)
_CUSTOM_ARG_FIELDS = ("send_id", "customer_id", "campaign_id", "variant", "run_date")


def _event_id(seed: int, sg_message_id: str, event: str) -> str:
    digest = hashlib.sha256(f"{seed}|{sg_message_id}|{event}".encode()).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii")[:22]


def _rates_by_customer(rates: pd.DataFrame) -> dict[str, tuple[float, float, float]]:
    missing = {"customer_id", "open_rate", "click_rate", "unsubscribe_rate"} - set(rates.columns)
    if missing:
        raise ValueError(f"rates is missing column(s): {', '.join(sorted(missing))}")
    return {
        str(row.customer_id): (float(row.open_rate), float(row.click_rate), float(row.unsubscribe_rate))
        for row in rates.itertuples(index=False)
    }


def _events_for(
    message: StoredMessage,
    rates: tuple[float, float, float],
    seed: int,
    bounce_rate: float,
    spamreport_rate: float,
    anchor: str,
) -> list[dict[str, Any]]:
    rng = random.Random(f"{seed}|{message.sg_message_id}")
    open_rate, click_rate, unsubscribe_rate = rates
    start = int(max(message.send_at or 0, message.received_at))
    if anchor == "run_date" and message.run_date:
        day = datetime.fromisoformat(message.run_date).replace(tzinfo=UTC)
        start = int(day.timestamp()) + start % 86_400

    def record(event: str, timestamp: int, **extra: Any) -> dict[str, Any]:
        base: dict[str, Any] = {
            "email": message.email,
            "event": event,
            "timestamp": timestamp,
            "sg_message_id": message.sg_message_id,
            "sg_event_id": _event_id(seed, message.sg_message_id, event),
        }
        base.update({k: message.custom_args[k] for k in _CUSTOM_ARG_FIELDS if k in message.custom_args})
        base.update(extra)
        return base

    events = [record("processed", start)]
    arrived = start + rng.randint(1, 30)
    if rng.random() < bounce_rate:
        events.append(record("bounce", arrived, reason=rng.choice(BOUNCE_REASONS)))
        return events
    events.append(record("delivered", arrived))
    last = arrived
    if rng.random() < open_rate:
        opened = arrived + min(int(rng.expovariate(1 / 3600)), 72 * 3600)
        events.append(record("open", opened))
        last = opened
        if open_rate > 0 and rng.random() < min(1.0, click_rate / open_rate):
            last = opened + rng.randint(5, 600)
            events.append(record("click", last))
    if rng.random() < unsubscribe_rate:
        events.append(record("unsubscribe", last + rng.randint(10, 3600)))
    if rng.random() < spamreport_rate:
        events.append(record("spamreport", last + rng.randint(10, 3600)))
    return events


def simulate_events(
    store: SinkStore,
    rates: pd.DataFrame,
    *,
    seed: int = 0,
    run_date: str | None = None,
    as_of: datetime | float | None = None,
    bounce_rate: float = 0.02,
    spamreport_rate: float = 0.001,
    anchor: str = "received",
) -> list[dict[str, Any]]:
    """SendGrid-shaped event records for the store's accepted messages, oldest first.

    `as_of` keeps only events that would have happened by then, so a daily export
    can release each day's events as time passes. Customers absent from `rates`
    get zero open/click/unsubscribe rates (they are still processed and delivered).
    `anchor="received"` times events from when the sink got (or was asked to send)
    the mail; `anchor="run_date"` moves them onto the message's run date (keeping the
    time of day), for a demo that replays past dates through a sink on wall-clock time.
    """
    if anchor not in ("received", "run_date"):
        raise ValueError("anchor must be 'received' or 'run_date'")
    by_customer = _rates_by_customer(rates)
    cutoff = as_of.timestamp() if isinstance(as_of, datetime) else as_of
    events: list[dict[str, Any]] = []
    for message in store.messages(status="accepted", run_date=run_date, include_paused=False):
        customer_rates = by_customer.get(str(message.customer_id), (0.0, 0.0, 0.0))
        events.extend(_events_for(message, customer_rates, seed, bounce_rate, spamreport_rate, anchor))
    if cutoff is not None:
        events = [e for e in events if e["timestamp"] <= cutoff]
    return sorted(events, key=lambda e: (e["timestamp"], e["sg_event_id"]))


def write_events(events: Iterable[dict[str, Any]], landing: str | Path) -> EventExport:
    """Merge events into the landing folder's daily JSON Lines files."""
    return merge_daily(
        events, landing, "email_events", id_field="sg_event_id", unix_time=lambda e: int(e["timestamp"])
    )


def export_events(
    store: SinkStore,
    rates: pd.DataFrame,
    landing: str | Path,
    *,
    seed: int = 0,
    run_date: str | None = None,
    as_of: datetime | float | None = None,
    bounce_rate: float = 0.02,
    spamreport_rate: float = 0.001,
    anchor: str = "received",
) -> EventExport:
    """Simulate the store's events and merge them into the landing folder (idempotent)."""
    events = simulate_events(
        store,
        rates,
        seed=seed,
        run_date=run_date,
        as_of=as_of,
        bounce_rate=bounce_rate,
        spamreport_rate=spamreport_rate,
        anchor=anchor,
    )
    return write_events(events, landing)
