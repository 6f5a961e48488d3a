"""The SendGrid calls the sender makes, through the official client, each answer classified.

Housekeeping calls (batch ids, cancels, deleting a cancel) are idempotent or safe to
repeat, so `retrying` repeats them through anything transient until a deadline: a rate
limit waits as its headers say, other errors back off exponentially, a refused
connection is tried `max_retries` times (nothing listens: a wrong host or an outage).

The client library's own debug logging would print the Authorization header and the
payload, so it is capped at INFO whenever a client is built or used for a delivery.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sendgrid import SendGridAPIClient

from reengage.defs.delivery.outcomes import TRANSIENT, Outcome, call

logger = logging.getLogger(__name__)


def quiet_client_logging() -> None:
    """python_http_client logs headers (the API key) and payloads (addresses) at DEBUG."""
    client_logger = logging.getLogger("python_http_client.client")
    if client_logger.level < logging.INFO:  # NOTSET (0) or DEBUG: would inherit or emit DEBUG
        client_logger.setLevel(logging.INFO)


def make_client(api_key: str, host: str) -> SendGridAPIClient:
    """The official client pointed at `host` (the real API or a sink URL)."""
    quiet_client_logging()
    return SendGridAPIClient(api_key=api_key, host=host.rstrip("/"))


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try; tests shrink the delays, production keeps the defaults.

    Transient answers (429, 5xx, timeouts) are retried until the message's send window
    closes; `max_retries` bounds only refused connections in a row (nothing listens at
    the host) and refusals of a cancel.
    """

    max_retries: int = 5
    timeout_seconds: float = 10.0
    base_delay: float = 1.0
    max_delay: float = 60.0
    jitter: float = 0.5

    def backoff(self, attempt: int, rng: random.Random) -> float:
        return min(self.max_delay, self.base_delay * 2 ** (max(1, attempt) - 1)) + rng.uniform(0, self.jitter)


class Provider:
    """One sender's line to SendGrid (or the sink); `on_retry` counts every retry for the report."""

    def __init__(
        self,
        client: SendGridAPIClient,
        policy: RetryPolicy,
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
        rng: random.Random,
        on_retry: Callable[[], None] = lambda: None,
    ) -> None:
        self.client = client
        self.policy = policy
        self.clock = clock
        self.sleep = sleep
        self.rng = rng
        self.on_retry = on_retry

    def call(self, request: Callable[[], Any]) -> Outcome:
        return call(request, self.clock)

    def wait_after(self, outcome: Outcome, attempt: int) -> float:
        """How long to wait before trying again after a transient `outcome`."""
        if outcome.kind == "rate_limited":
            return outcome.wait + self.rng.uniform(0, self.policy.jitter)
        return self.policy.backoff(attempt, self.rng)

    def retrying(self, what: str, request: Callable[[], Any], *, until: float | None) -> Outcome:
        """Call, and call again through transient answers while the next try would start before `until`."""
        outcome = self.call(request)
        attempt = refused = 0
        while outcome.kind in TRANSIENT:
            attempt += 1
            refused = refused + 1 if outcome.kind == "unreachable" else 0
            wait = self.wait_after(outcome, attempt)
            if refused > self.policy.max_retries or (until is not None and self.clock() + wait > until):
                break
            logger.info("%s: %s; retrying in %.2fs", what, outcome.reason, wait)
            self.on_retry()
            self.sleep(wait)
            outcome = self.call(request)
        return outcome

    # -- the endpoints -------------------------------------------------------

    def send_mail(self, body: dict[str, Any]) -> Outcome:
        return self.call(
            lambda: self.client.client.mail.send.post(request_body=body, timeout=self.policy.timeout_seconds)
        )

    def create_batch(self, *, until: float | None) -> Outcome:
        return self.retrying(
            "create batch id",
            lambda: self.client.client.mail.batch.post(timeout=self.policy.timeout_seconds),
            until=until,
        )

    def cancel_batch(self, batch_id: str, *, until: float | None) -> Outcome:
        scheduled = self.client.client.user.scheduled_sends
        return self.retrying(
            f"cancel batch {batch_id}",
            lambda: scheduled.post(
                request_body={"batch_id": batch_id, "status": "cancel"}, timeout=self.policy.timeout_seconds
            ),
            until=until,
        )

    def batch_status(self, batch_id: str, *, until: float | None) -> str | None:
        """'cancel', 'pause', '' (no status) or None (no answer)."""
        outcome = self.retrying(
            f"read batch {batch_id}",
            lambda: self.client.client.user.scheduled_sends._(batch_id).get(
                timeout=self.policy.timeout_seconds
            ),
            until=until,
        )
        if outcome.kind != "ok" or not isinstance(outcome.body, list):
            return None
        statuses = [item.get("status") for item in outcome.body if isinstance(item, dict)]
        return str(statuses[0]) if statuses and statuses[0] else ""

    def delete_status(self, batch_id: str, *, until: float | None) -> bool:
        """Remove a batch's cancel; True when the provider holds none for it afterwards."""
        outcome = self.retrying(
            f"delete the cancel of batch {batch_id}",
            lambda: self.client.client.user.scheduled_sends._(batch_id).delete(
                timeout=self.policy.timeout_seconds
            ),
            until=until,
        )
        # 404: no status to delete (never set, or deleted by an earlier try whose answer was lost)
        return outcome.kind == "ok" or outcome.status == 404
