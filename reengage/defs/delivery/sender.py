"""Deliver a run date's planned messages through the official SendGrid client, exactly once.

The run, from plan to report; each step lives in its own module:

* The sender registers in the ledger and keeps a lease (leases.py) while it runs.
* The day streams through: messages are planned a chunk at a time (one ledger
  transaction each) and each request goes out as soon as it is full (payloads.py groups
  them), so a crash can leave part of the day unplanned; the rerun plans it (the input
  is the same). A message that cannot go now is settled at once: a local refusal fails,
  a closed window expires, one meant for more than 72 hours ahead waits for a later run.
* Rows in flight of a sender that is gone (at once when it ran on this machine) are
  settled at the start of the next run, per run date, before the first message of that
  date is sent (settling.py).
* Each request is claimed, posted and settled by request.py, which says how every
  answer of the provider is handled (what keeps "exactly once" when the network lies);
  request_pool.py keeps `concurrency` of them in flight.
* Per request the ledger does two set-based writes, each one durable commit: the claim
  (and its cancel place) before the POST, and the acceptance (giving the place back).
* `crashpoint(...)` calls mark the steps the SIGKILL suite
  (tests/delivery/test_crash_points.py) kills the sender at; unarmed, each is one comparison.
* At the end, what can no longer go out is expired and the report reads where every
  message of the run dates stands (report.py).

Logs carry counts, batch ids and the provider's reasons (with any address redacted);
never a key, an address or a body.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date

from sendgrid import SendGridAPIClient

from reengage.defs.delivery.cancel_places import CancelPlaces
from reengage.defs.delivery.crashpoints import crashpoint
from reengage.defs.delivery.leases import DEFAULT_LEASE_SECONDS, SenderLease
from reengage.defs.delivery.ledger import SendLedger
from reengage.defs.delivery.outcomes import redact
from reengage.defs.delivery.payloads import (
    MAX_PERSONALIZATIONS,
    OutboundMessage,
    PayloadOptions,
    RequestGrouper,
    local_problem,
)
from reengage.defs.delivery.provider import Provider, RetryPolicy, make_client, quiet_client_logging
from reengage.defs.delivery.report import DeliveryReport
from reengage.defs.delivery.request import AbortRun, RequestSender
from reengage.defs.delivery.request_pool import RequestPool
from reengage.defs.delivery.settling import Settler, closed_reason
from reengage.defs.delivery.windows import MAX_CANCEL_PLACES, SendWindows

__all__ = ["DeliveryReport", "RetryPolicy", "deliver", "make_client", "quiet_client_logging", "redact"]

logger = logging.getLogger(__name__)


class _Delivery:
    """One delivery run; holds the collaborators so the steps stay short."""

    def __init__(
        self,
        ledger: SendLedger,
        client: SendGridAPIClient,
        options: PayloadOptions,
        *,
        policy: RetryPolicy,
        windows: SendWindows,
        batch_size: int,
        place_limit: int,
        lease_seconds: float,
        stale_after_seconds: float,
        sleep: Callable[[float], None],
        clock: Callable[[], float],
        rng: random.Random,
        concurrency: int = 1,
        plan_chunk: int = 50_000,
        run_id: str | None = None,
    ) -> None:
        self.ledger = ledger
        self.options = options
        self.policy = policy
        self.windows = windows
        self.batch_size = batch_size
        self.place_limit = place_limit
        self.lease_seconds = lease_seconds
        self.stale_after_seconds = stale_after_seconds
        self.clock = clock
        self.concurrency = concurrency
        self.plan_chunk = plan_chunk
        self.run_id = run_id
        self.report = DeliveryReport(run_dates=[])
        self.provider = Provider(
            client, policy, clock=clock, sleep=sleep, rng=rng, on_retry=lambda: self.report.count("retries")
        )
        self.sender_id: str | None = None
        self.places = self._places(None)
        self.settler = self._settler()
        self.request_sender = self._request_sender()
        # Window ends of messages between planning and their request, popped by _send_group.
        self._send_by: dict[str, int] = {}

    def _places(self, sender_id: str | None) -> CancelPlaces:
        return CancelPlaces(
            self.ledger,
            self.provider,
            self.windows,
            limit=self.place_limit,
            sender_id=sender_id,
            poll_seconds=max(self.policy.base_delay, 0.05),
            on_cancel=lambda: self.report.count("cancels"),
            on_wait=lambda: self.report.count("place_waits"),
        )

    def _settler(self) -> Settler:
        return Settler(
            self.ledger,
            self.places,
            self.windows,
            self.report,
            clock=self.clock,
            lease_seconds=self.lease_seconds,
            legacy_stale_after=self.stale_after_seconds,
            own_sender_id=self.sender_id,
        )

    def _request_sender(self) -> RequestSender:
        return RequestSender(
            self.ledger,
            self.provider,
            self.places,
            self.windows,
            self.report,
            self.options,
            sender_id=self.sender_id,
        )

    def run(self, messages: Iterable[OutboundMessage], run_dates: Sequence[str]) -> DeliveryReport:
        """Register as a sender, then plan, recover and send the messages chunk by chunk."""
        with SenderLease(self.ledger, run_id=self.run_id, lease_seconds=self.lease_seconds) as lease:
            self.sender_id = lease.sender_id
            self.places = self._places(lease.sender_id)
            self.settler = self._settler()
            self.request_sender = self._request_sender()
            return self._run(messages, run_dates)

    def _run(self, messages: Iterable[OutboundMessage], run_dates: Sequence[str]) -> DeliveryReport:
        """Each chunk of `plan_chunk` messages is planned in one ledger transaction, then its
        still-planned rows are grouped into requests; a request goes out as soon as it is full
        (or at the end), while later chunks are still being read. A run date is recovered (rows
        a sender that is gone left in flight) before its first message is sent. After an abort
        the rest of the input is still planned, unsent, so the report counts every message.
        """
        dates = set(run_dates)
        recovered: set[str] = set()
        # Ten part-full requests may wait for company; more distinct keys go out part-full.
        grouper = RequestGrouper(self.batch_size, max_held=10 * self.batch_size)
        pool = RequestPool(self._send_group, self.concurrency)
        try:
            self.places.free_due()
            if run_dates:
                self.settler.recover(sorted(run_dates))
                recovered.update(run_dates)
                crashpoint("after_recovery")
            for chunk in _unique_chunks(messages, self.plan_chunk):
                crashpoint("before_plan")
                window_ends = self.windows.window_ends(chunk, self.clock())
                new = self.ledger.plan_messages(chunk, send_by=window_ends)
                crashpoint("after_plan")
                chunk_dates = {m.run_date for m in chunk}
                dates |= chunk_dates
                if pool.stopped:
                    continue  # planned for the report and the next run; nothing more is sent
                if chunk_dates - recovered:
                    self.settler.recover(sorted(chunk_dates - recovered))
                    recovered |= chunk_dates
                    crashpoint("after_recovery")
                for group in grouper.add(self._sendable(chunk, window_ends if new == len(chunk) else None)):
                    pool.send(group)
            for group in grouper.flush():
                pool.send(group)
        except AbortRun as exc:  # raised on this thread (a worker's abort is caught by the pool)
            pool.abort = pool.abort or exc
        finally:
            pool.close()
        if pool.abort is not None:
            self.report.problem(redact(str(pool.abort)))
            logger.error("delivery stopped: %s", redact(str(pool.abort)))
        self.report.run_dates = sorted(dates)
        return self._finish()

    def _sendable(
        self, chunk: list[OutboundMessage], window_ends: list[int] | list[int | None] | None
    ) -> list[OutboundMessage]:
        """The chunk's still-planned messages that can go now; the others are settled right here.

        A local refusal fails the row; a row whose window has closed is expired; a message
        meant for more than 72 hours ahead waits (deferred) for a later run. `window_ends`:
        planning just inserted every row with these window ends, so the ledger need not be
        asked (a claim still takes only rows that are planned when it runs).
        """
        now = self.clock()
        if window_ends is None:
            planned = self.ledger.planned_send_by([m.send_id for m in chunk])
            end_of = self.windows.row_send_by
            window_ends = [None if (row := planned.get(m.send_id)) is None else end_of(*row) for m in chunk]
        earliest_end = now + max(0.0, self.windows.min_lead_seconds)  # is_open(), once for the chunk
        horizon = self.windows.deferral_horizon(now)
        sendable: list[OutboundMessage] = []
        refused: dict[str, list[str]] = {}
        closed: dict[int, list[str]] = {}
        for message, end in zip(chunk, window_ends, strict=True):
            if end is None:
                continue  # no longer planned: settled already, or another sender's
            problem = local_problem(message)
            if problem is not None:
                refused.setdefault(problem, []).append(message.send_id)
            elif message.send_at is not None and message.send_at > horizon:
                self.report.count("deferred")  # too early to schedule; a later run sends it
            elif end < earliest_end:
                closed.setdefault(end, []).append(message.send_id)
            else:
                self._send_by[message.send_id] = end
                sendable.append(message)
        for problem, ids in refused.items():
            self.ledger.mark_failed(ids, problem)
        for end, ids in closed.items():
            self.ledger.expire(ids, closed_reason(end, "not sent in time"))
        return sendable

    def _send_group(self, group: list[OutboundMessage]) -> None:
        self.request_sender.send(group, {m.send_id: self._send_by.pop(m.send_id, None) for m in group})

    def _finish(self) -> DeliveryReport:
        report = self.report
        self.settler.expire_closed(report.run_dates)
        report.read_ledger(self.ledger)
        logger.info(
            "delivery for %s: accepted=%d failed=%d expired=%d held=%d in_doubt=%d pending=%d "
            "(sent now %d, %d requests, %d cancels)",
            ", ".join(report.run_dates),
            report.accepted,
            report.failed,
            report.expired,
            report.held,
            report.in_doubt,
            report.pending,
            report.sent_this_run,
            report.requests,
            report.cancels,
        )
        return report


def _unique_chunks(messages: Iterable[OutboundMessage], size: int) -> Iterator[list[OutboundMessage]]:
    """The input in lists of `size` distinct send ids (a repeat within a chunk is dropped).

    A repeat in a later chunk is harmless: its row is no longer planned by then, or the
    claim, which takes a row once, keeps it to one request.
    """
    chunk: dict[str, OutboundMessage] = {}
    for message in messages:
        chunk.setdefault(message.send_id, message)
        if len(chunk) >= size:
            yield list(chunk.values())
            chunk = {}
    if chunk:
        yield list(chunk.values())


def deliver(
    ledger: SendLedger,
    messages: Iterable[OutboundMessage],
    client: SendGridAPIClient,
    *,
    options: PayloadOptions,
    run_date: str | date | None = None,
    policy: RetryPolicy | None = None,
    batch_size: int = MAX_PERSONALIZATIONS,
    min_lead_seconds: float = 1800,
    max_delay_seconds: float = 6 * 3600,
    cancel_places: int = MAX_CANCEL_PLACES,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    stale_after_seconds: float = 300,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
    rng: random.Random | None = None,
    concurrency: int = 1,
    plan_chunk: int = 50_000,
    run_id: str | None = None,
) -> DeliveryReport:
    """Send every planned message exactly once and report where each one stands.

    `messages` are planned in the ledger before they are sent (insert-or-ignore, so a
    rerun never resets a row), `plan_chunk` at a time in one transaction each; `messages`
    may be a generator, and requests go out while the rest is still being read, so memory
    stays flat however big the day. Only rows still `planned` are sent; accepted, failed,
    expired, held and in-doubt rows are left alone, which makes calling this again always
    safe. `run_date` adds a run date to the report even when `messages` is empty.

    `min_lead_seconds` schedules each message at least that far ahead, so an ambiguous
    answer can be cancelled; 0 sends at once, and an ambiguous answer then ends expired
    (the provider may have it). `max_delay_seconds`: how late after its send time a
    message may still go out. `cancel_places`: how many of the account's ten cancel
    places this pipeline may use. `lease_seconds`: how long without a heartbeat before a
    sender on another machine counts as gone; `stale_after_seconds` is the same for rows
    claimed by code from before senders were recorded. `concurrency` > 1 keeps that many
    requests in flight at once (each its own batch). `run_id` is recorded with the sender
    (the Dagster run, for a person reading the ledger).
    """
    quiet_client_logging()
    if plan_chunk < 1:
        raise ValueError("plan_chunk must be at least 1")
    if not 1 <= cancel_places <= MAX_CANCEL_PLACES:
        raise ValueError(f"cancel_places must be between 1 and {MAX_CANCEL_PLACES} (SendGrid's limit)")
    delivery = _Delivery(
        ledger,
        client,
        options,
        policy=policy or RetryPolicy(),
        windows=SendWindows(min_lead_seconds=min_lead_seconds, max_delay_seconds=max_delay_seconds),
        batch_size=batch_size,
        place_limit=cancel_places,
        lease_seconds=lease_seconds,
        stale_after_seconds=stale_after_seconds,
        sleep=sleep,
        clock=clock,
        rng=rng or random.Random(),
        concurrency=max(1, int(concurrency)),
        plan_chunk=plan_chunk,
        run_id=run_id,
    )
    return delivery.run(messages, [str(run_date)[:10]] if run_date else [])
