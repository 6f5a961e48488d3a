"""Texts, a Twilio provider aimed at a local Twilio sink, and what the sink holds, for SMS delivery tests."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable

from delivery_helpers import RUN_DATE

from reengage.defs.delivery.ledger import SendLedger
from reengage.defs.delivery.provider import RetryPolicy
from reengage.defs.delivery.report import DeliveryReport
from reengage.defs.delivery.sms_sender import SmsMessage, deliver_sms, new_provider
from reengage.defs.delivery.twilio_provider import TwilioProvider, make_twilio_client
from reengage_dev.twilio_sink import TwilioSinkStore

ACCOUNT = "AC" + "0" * 31 + "1"
SECRET = "twilio-test-secret-do-not-log"
SERVICE = "MG" + "0" * 31 + "2"
# Real retry logic with tiny delays; the sender gives up on an answer after 0.5 s.
FAST = RetryPolicy(max_retries=3, timeout_seconds=0.5, base_delay=0.01, max_delay=0.05, jitter=0.01)
TIMEOUT_FAULT = {"mode": "timeout", "delay": 1.0}  # Twilio stores it after 1 s; the sender gave up at 0.5 s
# A lookup waits this long after an ambiguous answer: longer than a late request takes to land.
SETTLE_SECONDS = 1.5


def number(i: int) -> str:
    return f"+1555{i:07d}"


def make_texts(n: int, *, run_date: str = RUN_DATE, campaign_id: str = "winback") -> list[SmsMessage]:
    return [
        SmsMessage(
            customer_id=f"c{i:05d}",
            campaign_id=campaign_id,
            variant="A" if i % 2 else "B",
            run_date=run_date,
            to=number(i),
            body=f"Name{i}, we miss you: 10% off today",
        )
        for i in range(n)
    ]


def provider_for(
    url: str,
    *,
    status_callback: str = "",
    timeout: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
    policy: RetryPolicy = FAST,
) -> TwilioProvider:
    return new_provider(
        lambda: make_twilio_client(ACCOUNT, SECRET, ACCOUNT, url, timeout),
        messaging_service_sid=SERVICE,
        status_callback=status_callback,
        policy=policy,
        sleep=sleep,
    )


def send_texts(ledger: SendLedger, texts: Iterable[SmsMessage], url: str, **options) -> DeliveryReport:
    """Deliver with the test's fast settings (no pacing, a short lookup delay) unless given."""
    provider = options.pop("provider", None) or provider_for(url)
    settings = {
        "run_date": RUN_DATE,
        "messages_per_second": 10_000,
        "seconds_between_texts_to_one_number": 0,
        "settle_delay_seconds": SETTLE_SECONDS,
        **options,
    }
    return deliver_sms(ledger, texts, provider, **settings)


def live_copies(store: TwilioSinkStore) -> Counter[tuple[str, str]]:
    """How many texts Twilio holds per (number, body) that are not cancelled: each must be one."""
    return Counter((t.to, t.body) for t in store.texts() if t.status != "canceled")


def expected(texts: list[SmsMessage]) -> Counter[tuple[str, str]]:
    return Counter((t.to, t.body) for t in texts)
