"""Constants and message builders for delivery tests (importable, unlike conftest)."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb

from reengage.defs.delivery.ledger import SendLedger, send_id
from reengage.defs.delivery.payloads import OutboundMessage, PayloadOptions
from reengage.defs.delivery.sender import RetryPolicy, deliver, make_client
from reengage.schema.declared import INTERVENTION_LIST
from reengage.schema.migrations import migrate

RUN_DATE = "2024-05-01"
API_KEY = "SG.test-secret-key-do-not-log"
OPTIONS = PayloadOptions(from_email="news@shop.example", from_name="Shop")
# Real retry logic with tiny delays. A 1,000-personalization request takes the sink
# a few hundred ms to validate and fsync, so only small-batch tests use SHORT_TIMEOUT
# (and a timeout fault must sleep longer than it).
FAST = RetryPolicy(max_retries=4, timeout_seconds=10, base_delay=0.01, max_delay=0.05, jitter=0.01)
SHORT_TIMEOUT = RetryPolicy(max_retries=6, timeout_seconds=0.5, base_delay=0.01, max_delay=0.05, jitter=0.01)
TIMEOUT_FAULT = {"mode": "timeout", "delay": 1.2}
SCHEDULED_SENDS = "/v3/user/scheduled_sends"
# The key may send but not cancel: the cancel that would settle an ambiguous request is refused.
CANCEL_REFUSED = {"status": 403, "message": "access forbidden", "path": SCHEDULED_SENDS}
# A request lost before the provider stored it, and the cancel that would settle it refused.
LOST_UNCANCELLED = ({"mode": "drop", "when": "before"}, CANCEL_REFUSED)


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


def make_rendered_messages(n: int) -> list[OutboundMessage]:
    """`make_messages` (same send ids) rendered per customer: each its own subject and body."""
    return [
        replace(
            message,
            template_id=None,
            subject=f"Name{i}, {i % 7 + 3} orders in 90 days - thank you!",
            html_content=f"<p>Hi Name{i},</p>\n<p>You have placed {i % 7 + 3} orders.</p>\n<p>Thanks</p>\n",
        )
        for i, message in enumerate(make_messages(n))
    ]


def received(message: OutboundMessage) -> tuple[str | None, dict[str, str]]:
    """What the recipient of a rendered message must receive: its own subject and bodies."""
    return message.subject, dict(message.contents())


def deliver_in_process(ledger_path: str, sink_url: str, n: int) -> None:
    """Target of a spawned process: a second sender working on the same run date."""
    ledger = SendLedger(ledger_path)
    deliver(
        ledger, make_messages(n), make_client(API_KEY, sink_url), options=OPTIONS, batch_size=10, policy=FAST
    )


class SimulatedTime:
    """Provider time shared by a sink, a ledger and a sender, that moves only when the sender waits.

    `sleep` advances the clock instead of waiting, so half an hour of waiting for a cancel
    place, or hours of rate limiting, take no wall-clock time; every wait is recorded.
    """

    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else start
        self.waits: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += max(0.0, seconds)


ARMS = ("treatment", "treatment", "treatment", "holdout")


def intervention_rows(run_date: date, arms: tuple[str, ...] = ARMS) -> list[tuple]:
    """Rows of `interventions.intervention_list` as the policy writes them: one per arm given."""
    send_at = datetime.combine(run_date, datetime.min.time(), tzinfo=UTC) + timedelta(hours=9)
    return [
        (send_id(f"c{i}", "winback", run_date), run_date, f"c{i}", "email", f"user{i}@mail.example",
         f"Name{i}", "UTC",
         "winback", "A", arm, "d-winback", None, None, json.dumps({"first_name": f"Name{i}"}), send_at,
         "09:00", 1, 0.5)
        for i, arm in enumerate(arms)
    ]  # fmt: skip


def write_intervention_list(warehouse: Path, *run_dates: date) -> None:
    """A warehouse holding only the intervention list of the given days (three treatment rows and
    one holdout row each): what the delivery asset reads."""
    with duckdb.connect(str(warehouse)) as con:
        migrate(con)
        for run_date in run_dates:
            con.executemany(
                INTERVENTION_LIST.insert_values(),
                intervention_rows(run_date),
            )
