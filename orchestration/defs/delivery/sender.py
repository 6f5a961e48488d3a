"""Deliver a run date's planned messages through the official SendGrid client, exactly once.

How "exactly once" is kept when the network lies:

* Every request gets its own batch id, and the ledger claims its rows under that
  batch id and the sender's id (BEGIN IMMEDIATE) before the POST, so no two senders
  send a row.
* A 2xx marks rows accepted; a 4xx marks them failed with the provider's reason
  (a 400 that names single personalizations fails only those, the rest go again).
* 429 is a definite "not accepted": wait as `Retry-After`/`X-RateLimit-Reset` say
  (plus jitter), however many times in a row, and send the same request again.
* 500/503 are documented as "not accepted": retry with exponential backoff (capped at
  `max_delay`). A refused connection (the request never left) too, but `max_retries`
  in a row stop the run: nothing listens there. 401/403/404/405 stop the run: the key
  or host is wrong, and rows go back to planned for the next run.
* No transient answer ever fails a message: it is retried until the message's send
  window closes (windows.py), and then expired with the last answer as its reason.
* Timeouts, dropped connections, 502 and 504 are ambiguous: the provider may have the
  request. Each message is scheduled at least `min_lead_seconds` ahead (default 30 min),
  so the batch can still be cancelled (allowed until 10 minutes before send_at): the
  rows are marked in doubt, the batch is cancelled, the rows move to a fresh batch and
  go again. A request is only sent with one of the account's ten cancel places reserved
  for it (cancel_places.py), so that cancel never meets SendGrid's limit; with every
  place taken, senders wait for one. If it is too late to cancel, the rows are expired
  with the reason (the provider may have them: never resent); if the provider cannot be
  reached to cancel, they stay in doubt for a later run or `resolve`.
* A request that waited so long (rate limits, backoff) that an ambiguous answer could no
  longer be cancelled moves to a fresh batch with a fresh send_at before its next try.
* Rows in flight of a sender that is gone (leases.py: at once when it ran on this
  machine) are settled the same way at the start of the next run, per run date, before
  the first message of that date is sent (settling.py).
* The day streams through: messages are planned a chunk at a time (one ledger
  transaction each) and each request goes out as soon as it is full, so a crash can
  leave part of the day unplanned; the rerun plans it (the input is the same).
* Per request the ledger does two set-based writes, each one durable commit: the claim
  (and its cancel place) before the POST, and the acceptance (giving the place back).
* `concurrency` > 1 keeps several requests in flight; each has its own batch id and
  claim, so the rules above hold per request. `crashpoint(...)` calls mark the steps
  the SIGKILL suite (tests/delivery/test_crash_points.py) kills the sender at; unarmed,
  each is one comparison.

Logs carry counts, batch ids and the provider's reasons (with any address redacted);
never a key, an address or a body. The client library's own debug logging would print
the Authorization header and the payload, so it is capped at INFO whenever this module
builds or uses a client.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date

from sendgrid import SendGridAPIClient

from orchestration.defs.delivery.cancel_places import CancelPlaces
from orchestration.defs.delivery.crashpoints import crashpoint
from orchestration.defs.delivery.leases import DEFAULT_LEASE_SECONDS, SenderLease
from orchestration.defs.delivery.ledger import NoCancelPlace, SendLedger
from orchestration.defs.delivery.outcomes import Outcome, redact
from orchestration.defs.delivery.payloads import (
    MAX_PERSONALIZATIONS,
    OutboundMessage,
    PayloadOptions,
    RequestGrouper,
    build_mail,
    local_problem,
)
from orchestration.defs.delivery.provider import Provider, RetryPolicy
from orchestration.defs.delivery.report import DeliveryReport
from orchestration.defs.delivery.settling import Settler, closed_reason
from orchestration.defs.delivery.windows import MAX_CANCEL_PLACES, SendWindows

__all__ = ["DeliveryReport", "RetryPolicy", "deliver", "make_client", "quiet_client_logging", "redact"]

logger = logging.getLogger(__name__)

_PERSONALIZATION_FIELD = re.compile(r"^personalizations\.(\d+)(\.|$)")


def quiet_client_logging() -> None:
    """python_http_client logs headers (the API key) and payloads (addresses) at DEBUG."""
    client_logger = logging.getLogger("python_http_client.client")
    if client_logger.level < logging.INFO:  # NOTSET (0) or DEBUG: would inherit or emit DEBUG
        client_logger.setLevel(logging.INFO)


def make_client(api_key: str, host: str) -> SendGridAPIClient:
    """The official client pointed at `host` (the real API or a sink URL)."""
    quiet_client_logging()
    return SendGridAPIClient(api_key=api_key, host=host.rstrip("/"))


class _AbortRun(Exception):
    """Stop sending further requests (bad credentials, nothing listening at the host)."""


@dataclass
class _Request:
    """One claimed request: its messages still to settle, its batch, send times and window ends."""

    pending: list[OutboundMessage]
    batch_id: str
    send_at: dict[str, int | None]
    send_by: dict[str, int]
    last_reason: str = ""

    def ids(self) -> list[str]:
        return [m.send_id for m in self.pending]

    def keep(self, send_ids: Iterable[str]) -> None:
        """Go on with these rows only (the others are settled, or no longer ours)."""
        kept = set(send_ids)
        self.pending = [m for m in self.pending if m.send_id in kept]

    def window_end(self) -> int:
        return min(self.send_by[m.send_id] for m in self.pending)


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
        # Window ends of messages between planning and their request, popped by send_group.
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

    # -- the run -------------------------------------------------------------

    def run(self, messages: Iterable[OutboundMessage], run_dates: Sequence[str]) -> DeliveryReport:
        """Register as a sender, then plan, recover and send the messages chunk by chunk."""
        with SenderLease(self.ledger, run_id=self.run_id, lease_seconds=self.lease_seconds) as lease:
            self.sender_id = lease.sender_id
            self.places = self._places(lease.sender_id)
            self.settler = self._settler()
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
        requests = _Requests(self)
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
                if requests.stopped:
                    continue  # planned for the report and the next run; nothing more is sent
                if chunk_dates - recovered:
                    self.settler.recover(sorted(chunk_dates - recovered))
                    recovered |= chunk_dates
                    crashpoint("after_recovery")
                for group in grouper.add(self._sendable(chunk, window_ends if new == len(chunk) else None)):
                    requests.send(group)
            for group in grouper.flush():
                requests.send(group)
        except _AbortRun as exc:  # raised on this thread (a worker's abort is caught by _Requests)
            requests.abort = requests.abort or exc
        finally:
            requests.close()
        if requests.abort is not None:
            self.report.problem(redact(str(requests.abort)))
            logger.error("delivery stopped: %s", redact(str(requests.abort)))
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

    # -- one request -----------------------------------------------------------

    def send_group(self, group: Sequence[OutboundMessage]) -> None:
        ids = [m.send_id for m in group]
        now = self.clock()
        send_by = {sid: self._send_by.pop(sid, None) or self.windows.send_by(None, now) for sid in ids}
        closes = min(send_by.values()) - max(0.0, self.windows.min_lead_seconds)
        # No state check first: run() sent only rows it saw planned, and the claim below
        # takes only rows still planned (a concurrent sender's rows cost one unused batch id).
        crashpoint("before_create_batch")
        batch_id = self._new_batch(until=closes)
        if batch_id is None:
            return
        crashpoint("after_create_batch")
        claimed, send_at = self._claim(group, batch_id, until=closes)
        crashpoint("after_claim")
        if not claimed:
            return
        # One personalization per claimed id, even if the input repeated a message.
        first: dict[str, OutboundMessage] = {}
        for message in group:
            if message.send_id in claimed:
                first.setdefault(message.send_id, message)
        ends = {sid: claimed[sid] or send_by[sid] for sid in first}
        self.post(_Request(list(first.values()), batch_id, {sid: send_at[sid] for sid in first}, ends))

    def _new_batch(self, *, until: float) -> str | None:
        result = self.provider.create_batch(until=until)
        if result.kind in ("config", "unreachable"):
            raise _AbortRun(f"could not create a batch id: {result.reason}")
        if result.kind != "ok" or not isinstance(result.body, dict) or "batch_id" not in result.body:
            self.report.problem(f"could not create a batch id: {result.reason or 'no batch_id'}")
            return None
        return str(result.body["batch_id"])

    def _claim(
        self, group: Sequence[OutboundMessage], batch_id: str, *, until: float
    ) -> tuple[dict[str, int | None], dict[str, int | None]]:
        """Claim the group under `batch_id` with a cancel place, waiting for a place if none is free.

        Returns ({send_id: send_by} of the rows claimed, {send_id: send_at} they were claimed with).
        """
        ids = [m.send_id for m in group]
        while True:
            send_at = self.windows.send_times(group, self.clock())
            try:
                claimed = self.ledger.claim_for_send(
                    ids,
                    batch_id,
                    send_at=send_at,
                    count_attempt=True,
                    claimed_by=self.sender_id,
                    place_limit=self.places.reserve,
                )
            except NoCancelPlace:
                if self.places.wait_for_room(until):
                    continue
                reason = "no cancel place came free in time"
                closed = self.ledger.expire(ids, closed_reason(int(until), reason))
                logger.warning("%d message(s) expired: %s", closed, reason)
                return {}, send_at
            return claimed, send_at

    def post(self, request: _Request) -> None:
        """Send one claimed request until every row in it is accepted, failed, expired or in doubt."""
        attempt = refused = 0
        counted = True  # the claim counted the first attempt
        while request.pending:
            if not self._still_sendable(request):
                return
            ids = request.ids()
            if not counted:
                owned = self.ledger.record_attempt(ids, request.batch_id)
                if len(owned) < len(ids):  # recovered by another run meanwhile: no longer ours
                    request.keep(owned)
                    ids = request.ids()
                    if not ids:
                        return
            counted = False
            body = build_mail(
                request.pending, self.options, batch_id=request.batch_id, send_at=request.send_at
            )
            crashpoint("before_post")
            crashpoint("during_post")  # armed with a delay: dies while the sink is slow to answer
            self.report.count("requests")
            result = self.provider.send_mail(body)
            crashpoint(f"after_post_{result.kind}")
            if result.kind == "ok":
                accepted = self.ledger.mark_accepted(ids, request.batch_id)
                crashpoint("after_mark_accepted")
                self.report.count("sent_this_run", accepted)
                logger.info(
                    "accepted %d message(s) in batch %s (HTTP %s)", accepted, request.batch_id, result.status
                )
                return
            if result.kind == "config":
                self.ledger.release(ids, request.batch_id, result.reason)
                raise _AbortRun(f"mail send refused: {result.reason}")
            if result.kind == "rejected":
                self._fail_rejected(request, result)
                continue
            request.last_reason = result.reason
            refused = refused + 1 if result.kind == "unreachable" else 0
            if refused > self.policy.max_retries:  # never left: nothing to undo, nothing else gets through
                self.ledger.release(ids, request.batch_id, f"{refused} attempts refused: {result.reason}")
                raise _AbortRun(f"provider unreachable: {result.reason}")
            self.report.count("retries")
            if result.kind == "rate_limited":
                self._wait_out_rate_limit(request, result)
                continue
            if result.kind == "ambiguous" and not self._settle_ambiguous(request, result.reason):
                return
            attempt += 1
            logger.info("batch %s: %s; retry %d", request.batch_id, result.reason, attempt)
            crashpoint("during_backoff")
            self.provider.sleep(self.policy.backoff(attempt, self.provider.rng))

    def _wait_out_rate_limit(self, request: _Request, result: Outcome) -> None:
        wait = self.provider.wait_after(result, 0)
        later = self.clock() + wait
        if not any(self.windows.is_open(request.send_by[m.send_id], later) for m in request.pending):
            # The provider wants us back after every message's window has closed: settle them now.
            self._expire(request, request.ids(), f"rate limited until after the window: {result.reason}")
            request.pending = []
            return
        logger.info("batch %s rate limited; waiting %.2fs", request.batch_id, wait)
        crashpoint("during_rate_limit_wait")
        self.provider.sleep(wait)

    def _still_sendable(self, request: _Request) -> bool:
        """Before each try: expire rows whose window closed, and make sure an ambiguous answer
        could still be cancelled (a fresh batch and send time if waiting used up the lead)."""
        now = self.clock()
        closed = [
            m.send_id for m in request.pending if not self.windows.is_open(request.send_by[m.send_id], now)
        ]
        if closed:
            self._expire(request, closed, request.last_reason or "not sent in time")
            request.keep(set(request.ids()) - set(closed))
        if not request.pending:
            return False
        if self.windows.cancellable_sends and not self.windows.cancellable(request.send_at.values(), now):
            # Every earlier try in this batch was a definite "not accepted" (an ambiguous one
            # is cancelled and moved on at once), so the batch holds nothing to cancel.
            return self._move_to_new_batch(request)
        return True

    def _expire(self, request: _Request, ids: list[str], last: str) -> None:
        by_end: dict[int, list[str]] = {}
        for sid in ids:
            by_end.setdefault(request.send_by[sid], []).append(sid)
        ending = len(ids) == len(request.pending)
        for end, group in by_end.items():
            self.ledger.expire(group, closed_reason(end, last), request.batch_id, end_request=ending)
        logger.warning("batch %s: %d message(s) expired: %s", request.batch_id, len(ids), last)

    def _settle_ambiguous(self, request: _Request, why: str) -> bool:
        """After a possibly-delivered request: cancel its batch, then go on under a new one.

        True when the request continues under a new batch; otherwise its rows were settled
        here (expired: too late to cancel) or stay in doubt (the cancel is not confirmed).
        """
        ids, batch_id = request.ids(), request.batch_id
        crashpoint("before_rebatch_cancel")
        self.ledger.mark_in_doubt(ids, batch_id, f"in doubt: {why}; cancelling batch {batch_id}")
        result = self.places.cancel(batch_id, [request.send_at[sid] for sid in ids])
        if result.outcome == "cancelled":
            crashpoint("after_rebatch_cancel")
            logger.info("batch %s cancelled after %s; resending under a new batch", batch_id, why)
            return self._move_to_new_batch(request)
        if result.outcome == "too_late":
            reason = f"in doubt: {why}; {result.reason}; the provider may have it, not resent"
            self.ledger.expire(ids, reason, batch_id, end_request=True)
            logger.warning(
                "%d message(s) in batch %s expired in doubt: %s", len(ids), batch_id, result.reason
            )
        else:
            self.ledger.mark_in_doubt(ids, batch_id, f"in doubt: {why}; {result.reason}")
            self.report.problem(f"batch {batch_id}: {result.reason}")
            logger.warning("%d message(s) in batch %s left in doubt: %s", len(ids), batch_id, result.reason)
        return False

    def _move_to_new_batch(self, request: _Request) -> bool:
        """Move the request's rows to a fresh batch id and send time (the old batch is cancelled,
        or holds nothing); False when they were settled instead."""
        old = request.batch_id
        closes = request.window_end() - max(0.0, self.windows.min_lead_seconds)
        new = self._new_batch(until=closes)
        if new is None:
            self.ledger.release(request.ids(), old, f"batch {old} given up, no new batch id: requeued")
            return False
        crashpoint("after_rebatch_new_batch")
        while True:
            send_at = self.windows.send_times(request.pending, self.clock())
            try:
                moved = self.ledger.rebatch(
                    request.ids(),
                    old,
                    new,
                    send_at=send_at,
                    place_limit=self.places.reserve,
                    sender_id=self.sender_id,
                )
            except NoCancelPlace:
                if self.places.wait_for_room(closes):
                    continue
                self._expire(request, request.ids(), "no cancel place came free in time")
                return False
            break
        crashpoint("after_rebatch")
        request.batch_id, request.send_at = new, send_at
        request.keep(moved)
        return bool(request.pending)

    def _fail_rejected(self, request: _Request, result: Outcome) -> None:
        """Fail what the provider refused; if it named single personalizations, keep the rest."""
        pending = request.pending
        bad: dict[int, list[str]] = {}
        for error in result.errors:
            match = _PERSONALIZATION_FIELD.match(str(error.get("field") or ""))
            if match is None or int(match[1]) >= len(pending):
                bad = {}
                break
            bad.setdefault(int(match[1]), []).append(
                redact(f"HTTP {result.status}: {error.get('field')}: {error.get('message')}")
            )
        if not bad or len(bad) == len(pending):
            failed = self.ledger.mark_failed(request.ids(), result.reason, request.batch_id, end_request=True)
            logger.warning("batch %s: %d message(s) failed: %s", request.batch_id, failed, result.reason)
            request.pending = []
            return
        for index, reasons in bad.items():
            self.ledger.mark_failed([pending[index].send_id], "; ".join(reasons), request.batch_id)
        logger.warning(
            "batch %s: %d message(s) refused individually; resending the rest", request.batch_id, len(bad)
        )
        request.pending = [m for i, m in enumerate(pending) if i not in bad]


class _Requests:
    """Sends a run's requests one after another, or keeps up to `concurrency` in flight.

    Each request has its own batch id and claim, so requests are independent. With
    concurrency > 1 the caller's thread goes on planning and grouping while worker
    threads send, and `send` blocks while `concurrency` requests are outstanding, so
    the day is never queued in memory. An abort (bad key, nothing listening) stops
    requests not yet started; `abort` holds it, `stopped` says so.
    """

    def __init__(self, delivery: _Delivery) -> None:
        self.delivery = delivery
        self.abort: _AbortRun | None = None
        self._errors: list[BaseException] = []
        self._stop = threading.Event()
        self._pool: ThreadPoolExecutor | None = None
        if delivery.concurrency > 1:
            self._pool = ThreadPoolExecutor(delivery.concurrency, thread_name_prefix="sendgrid-send")
            self._slots = threading.BoundedSemaphore(delivery.concurrency)

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def send(self, group: list[OutboundMessage]) -> None:
        if self._stop.is_set():
            return
        if self._pool is None:
            self._send(group)
            return
        self._slots.acquire()
        if self._stop.is_set():
            self._slots.release()
            return
        self._pool.submit(self._send_and_release, group)

    def _send_and_release(self, group: list[OutboundMessage]) -> None:
        try:
            self._send(group)
        except BaseException as exc:  # re-raised on the caller's thread by close()
            self._errors.append(exc)
            self._stop.set()
        finally:
            self._slots.release()

    def _send(self, group: list[OutboundMessage]) -> None:
        if self._stop.is_set():
            return
        try:
            self.delivery.send_group(group)
        except _AbortRun as exc:
            if self.abort is None:
                self.abort = exc
            self._stop.set()
        crashpoint("between_batches")

    def close(self) -> None:
        """Wait for the requests in flight; raise what a worker raised (other than an abort)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        if self._errors:
            raise self._errors[0]


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
