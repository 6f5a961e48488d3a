"""Constants and message builders for delivery tests (importable, unlike conftest)."""

from __future__ import annotations

from orchestration.defs.delivery.ledger import SendLedger
from orchestration.defs.delivery.payloads import OutboundMessage, PayloadOptions
from orchestration.defs.delivery.sender import RetryPolicy, deliver, make_client

RUN_DATE = "2024-05-01"
API_KEY = "SG.test-secret-key-do-not-log"
OPTIONS = PayloadOptions(from_email="news@shop.example", from_name="Shop")
# Real retry logic with tiny delays. A 1,000-personalization request takes the sink
# a few hundred ms to validate and fsync, so only small-batch tests use SHORT_TIMEOUT
# (and a timeout fault must sleep longer than it).
FAST = RetryPolicy(max_retries=4, timeout_seconds=10, base_delay=0.01, max_delay=0.05, jitter=0.01)
SHORT_TIMEOUT = RetryPolicy(max_retries=6, timeout_seconds=0.5, base_delay=0.01, max_delay=0.05, jitter=0.01)
TIMEOUT_FAULT = {"mode": "timeout", "delay": 1.2}


class SleepRecorder:
    """Stands in for time.sleep: records the waits the sender asked for, without waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def make_messages(
    n: int,
    *,
    run_date: str = RUN_DATE,
    campaign_id: str = "winback",
    template_id: str | None = "d-winback",
    email=lambda i: f"user{i}@mail.example",
    send_at: int | None = None,
) -> list[OutboundMessage]:
    return [
        OutboundMessage(
            customer_id=f"c{i:05d}",
            campaign_id=campaign_id,
            variant="A" if i % 2 else "B",
            run_date=run_date,
            email=email(i),
            template_id=template_id,
            subject=None if template_id else "We miss you, -first_name-",
            html_content=None if template_id else "<p>Hi -first_name-</p>",
            template_data={"first_name": f"Name{i}"},
            send_at=send_at,
        )
        for i in range(n)
    ]


def deliver_in_process(ledger_path: str, sink_url: str, n: int) -> None:
    """Target of a spawned process: a second sender working on the same run date."""
    ledger = SendLedger(ledger_path)
    deliver(
        ledger, make_messages(n), make_client(API_KEY, sink_url), options=OPTIONS, batch_size=10, policy=FAST
    )
