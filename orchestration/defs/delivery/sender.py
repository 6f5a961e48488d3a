"""Deliver a run date's planned messages through the official SendGrid client, exactly once.

How "exactly once" is kept when the network lies:

* Every request gets its own batch id, and the ledger claims its rows under that
  batch id (BEGIN IMMEDIATE) before the POST, so no two senders send a row.
* A 2xx marks rows accepted; a 4xx marks them failed with the provider's reason
  (a 400 that names single personalizations fails only those, the rest go again).
* 429 is a definite "not accepted": wait for `Retry-After`/`X-RateLimit-Reset`
  (plus jitter) and send the same request again.
* 500/503 are documented as "not accepted": retry with exponential backoff; so is a
  refused connection (the request never left). 401/403/404/405 stop the run: the
  key or host is wrong, and rows go back to planned for the next run.
* Timeouts, dropped connections, 502 and 504 are ambiguous: the provider may have
  the request. Each message is scheduled at least `min_lead_seconds` ahead
  (default 30 min), so the batch can still be cancelled (allowed until 10 min
  before send_at); the sender cancels it, moves the rows to a fresh batch and
  resends. If it is too late to cancel, the rows are marked in doubt and not
  resent; if the provider cannot be reached to cancel, they stay in flight for
  the next run's recovery.
* Rows left in flight by a crashed sender (untouched for `stale_after_seconds`)
  are recovered the same way at the start of the next run (per run date, before the
  first message of that date is sent).
* The day streams through: messages are planned a chunk at a time (one ledger
  transaction each) and each request goes out as soon as it is full, so a crash can
  leave part of the day unplanned; the rerun plans it (the input is the same).
* Per request the ledger does two set-based writes, each one durable commit: the
  claim (before the POST) and the acceptance (after the 2xx).
* `concurrency` > 1 keeps several requests in flight; each has its own batch id and
  claim, so the rules above hold per request. `crashpoint(...)` calls mark the steps
  the SIGKILL suite (tests/delivery/test_crash_points.py) kills the sender at; unarmed,
  each is one comparison.

Logs carry counts, batch ids and the provider's reasons (with any address
redacted); never a key, an address or a body. The client library's own debug
logging would print the Authorization header and the payload, so it is capped
at INFO whenever this module builds or uses a client.
"""

from __future__ import annotations

import http.client
import json
import logging
import math
import random
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from email.utils import parsedate_to_datetime
from itertools import groupby
from typing import Any
from urllib.error import URLError

from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient

from orchestration.defs.delivery.crashpoints import crashpoint
from orchestration.defs.delivery.ledger import SendLedger
from orchestration.defs.delivery.payloads import (
    MAX_PERSONALIZATIONS,
    MAX_SEND_AT_AHEAD_SECONDS,
    OutboundMessage,
    PayloadOptions,
    RequestGrouper,
    build_mail,
    local_problem,
)

logger = logging.getLogger(__name__)

CANCEL_WINDOW_SECONDS = 600
_CANCEL_SAFETY_SECONDS = 60
_AMBIGUOUS_STATUSES = frozenset({502, 504})
_EMAIL_LIKE = re.compile(r"[^\s@<>\"',;:()\[\]]+@[^\s@<>\"',;:()\[\]]+")
_PERSONALIZATION_FIELD = re.compile(r"^personalizations\.(\d+)(\.|$)")
_TRANSIENT = frozenset({"rate_limited", "server_error", "ambiguous", "unreachable"})


def redact(text: str, limit: int = 500) -> str:
    """Provider reasons may quote an address (SendGrid's duplicate error does); strip it."""
    return _EMAIL_LIKE.sub("<address>", text)[:limit]


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
    """How hard to try; tests shrink the delays, production keeps the defaults."""

    max_retries: int = 5
    timeout_seconds: float = 10.0
    base_delay: float = 1.0
    max_delay: float = 60.0
    jitter: float = 0.5
    max_rate_limit_wait: float = 120.0

    def backoff(self, attempt: int, rng: random.Random) -> float:
        return min(self.max_delay, self.base_delay * 2 ** (attempt - 1)) + rng.uniform(0, self.jitter)


@dataclass
class DeliveryReport:
    """Where every message of the run date(s) stands after a delivery run.

    State counts come from the ledger (so they include earlier runs); `sent_this_run`,
    `requests` and `retries` describe this call. `pending` counts rows still planned
    or in flight elsewhere; `in_doubt` rows may or may not have been sent.
    """

    run_dates: list[str]
    accepted: int = 0
    failed: int = 0
    held: int = 0
    in_doubt: int = 0
    pending: int = 0
    cancelled: int = 0
    sent_this_run: int = 0
    recovered: int = 0
    deferred: int = 0
    requests: int = 0
    retries: int = 0
    failed_send_ids: list[str] = field(default_factory=list)
    in_doubt_send_ids: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """True when nothing is left planned, in flight or in doubt."""
        return self.pending == 0 and self.in_doubt == 0

    def as_metadata(self) -> dict[str, Any]:
        """Counts and ids only: safe for Dagster metadata and logs."""
        return {
            "run_dates": ", ".join(self.run_dates),
            "accepted": self.accepted,
            "failed": self.failed,
            "held": self.held,
            "in_doubt": self.in_doubt,
            "pending": self.pending,
            "cancelled": self.cancelled,
            "sent_this_run": self.sent_this_run,
            "recovered": self.recovered,
            "deferred": self.deferred,
            "requests": self.requests,
            "retries": self.retries,
            "failed_send_ids": ", ".join(self.failed_send_ids[:50]),
            "in_doubt_send_ids": ", ".join(self.in_doubt_send_ids[:50]),
            "problems": "; ".join(self.problems),
        }


@dataclass(frozen=True)
class _Result:
    """One HTTP exchange, classified by what it tells us about the request's fate.

    ok            2xx: accepted
    rate_limited  429: not accepted; come back after `wait` seconds
    rejected      other 4xx: not accepted, and sending it again will not help
    config        401/403/404/405: our key or host is wrong; stop the whole run
    server_error  500/503/...: documented as not accepted; retry
    ambiguous     timeout, dropped connection, 502/504: the provider may have it
    unreachable   connection refused / unknown host: the request never left
    """

    kind: str
    status: int | None
    reason: str
    body: Any = None
    wait: float = 0.0
    errors: tuple[dict[str, Any], ...] = ()


class _AbortRun(Exception):
    """Stop sending further requests (bad credentials, rate limit beyond patience)."""


class _Delivery:
    """One delivery run; holds the collaborators so the steps stay short."""

    def __init__(
        self,
        ledger: SendLedger,
        client: SendGridAPIClient,
        options: PayloadOptions,
        *,
        policy: RetryPolicy,
        batch_size: int,
        min_lead_seconds: float,
        stale_after_seconds: float,
        sleep: Callable[[float], None],
        clock: Callable[[], float],
        rng: random.Random,
        concurrency: int = 1,
        plan_chunk: int = 50_000,
    ) -> None:
        self.ledger = ledger
        self.client = client
        self.options = options
        self.policy = policy
        self.batch_size = batch_size
        self.min_lead_seconds = min_lead_seconds
        self.stale_after_seconds = stale_after_seconds
        self.sleep = sleep
        self.clock = clock
        self.rng = rng
        self.concurrency = concurrency
        self.plan_chunk = plan_chunk
        self.report = DeliveryReport(run_dates=[])
        self._report_lock = threading.Lock()

    # -- HTTP ----------------------------------------------------------------

    def _call(self, request: Callable[[], Any]) -> _Result:
        try:
            response = request()
        except HTTPError as exc:
            return self._classify_error(exc)
        except URLError as exc:
            reason = redact(f"transport error: {exc.reason}")
            if isinstance(exc.reason, ConnectionRefusedError | socket.gaierror):
                return _Result("unreachable", None, reason)
            return _Result("ambiguous", None, reason)
        except (OSError, http.client.HTTPException) as exc:  # timeouts, resets, closed sockets
            return _Result("ambiguous", None, redact(f"transport error: {type(exc).__name__}: {exc}"))
        body = None
        if response.body:
            try:
                body = json.loads(response.body)
            except ValueError:
                body = None
        return _Result("ok", response.status_code, "", body)

    def _classify_error(self, exc: HTTPError) -> _Result:
        status = int(exc.status_code)
        errors: tuple[dict[str, Any], ...] = ()
        try:
            errors = tuple(json.loads(exc.body or b"{}").get("errors") or ())
        except (ValueError, AttributeError):
            pass
        detail = "; ".join(
            f"{e.get('field')}: {e.get('message')}" if e.get("field") else str(e.get("message"))
            for e in errors
        )
        reason = redact(f"HTTP {status}: {detail or exc.reason}")
        if status == 429:
            return _Result("rate_limited", status, reason, wait=self._rate_limit_wait(exc.headers))
        if status in (401, 403, 404, 405):
            return _Result("config", status, reason)
        if status in _AMBIGUOUS_STATUSES:
            return _Result("ambiguous", status, reason)
        if status >= 500:
            return _Result("server_error", status, reason)
        return _Result("rejected", status, reason, errors=errors)

    def _rate_limit_wait(self, headers: Mapping[str, str] | None) -> float:
        """Seconds until the provider wants us back: Retry-After and/or X-RateLimit-Reset."""
        headers = headers or {}
        waits: list[float] = []
        retry_after = headers.get("Retry-After")
        if retry_after:
            try:
                waits.append(float(retry_after))
            except ValueError:
                try:
                    waits.append(parsedate_to_datetime(retry_after).timestamp() - self.clock())
                except (TypeError, ValueError):
                    pass
        reset = headers.get("X-RateLimit-Reset")
        if reset:
            try:
                waits.append(float(reset) - self.clock())
            except ValueError:
                pass
        return max([0.0, *waits]) if waits else self.policy.base_delay

    def _with_retries(self, what: str, request: Callable[[], Any]) -> _Result:
        """For idempotent housekeeping calls (batch ids, cancellations): retry anything transient."""
        result = self._call(request)
        for attempt in range(1, self.policy.max_retries + 1):
            if result.kind not in _TRANSIENT:
                break
            wait = result.wait if result.kind == "rate_limited" else self.policy.backoff(attempt, self.rng)
            logger.info("%s: %s; retrying in %.2fs", what, result.reason, wait)
            self._count("retries")
            self.sleep(wait)
            result = self._call(request)
        return result

    def _create_batch(self) -> str | None:
        result = self._with_retries(
            "create batch id", lambda: self.client.client.mail.batch.post(timeout=self.policy.timeout_seconds)
        )
        if result.kind in ("config", "unreachable"):
            raise _AbortRun(f"could not create a batch id: {result.reason}")
        if result.kind != "ok" or not isinstance(result.body, dict) or "batch_id" not in result.body:
            self.report.problems.append(f"could not create a batch id: {result.reason or 'no batch_id'}")
            return None
        return str(result.body["batch_id"])

    def _cancel_batch(self, batch_id: str) -> str:
        """Cancel a batch at the provider.

        Returns "cancelled" (now or already), "refused" (the provider answered no, e.g.
        too close to send_at) or "unknown" (no definite answer: leave the rows for a
        later run's recovery rather than guess).
        """
        scheduled = self.client.client.user.scheduled_sends
        result = self._with_retries(
            f"cancel batch {batch_id}",
            lambda: scheduled.post(
                request_body={"batch_id": batch_id, "status": "cancel"}, timeout=self.policy.timeout_seconds
            ),
        )
        if result.kind == "ok":
            return "cancelled"
        check = self._with_retries(
            f"read batch {batch_id}",
            lambda: scheduled._(batch_id).get(timeout=self.policy.timeout_seconds),
        )
        if check.kind == "ok" and isinstance(check.body, list):
            if any(item.get("status") == "cancel" for item in check.body if isinstance(item, dict)):
                return "cancelled"
        logger.warning("could not cancel batch %s: %s", batch_id, result.reason)
        return "refused" if result.kind == "rejected" else "unknown"

    def _settle_ambiguous(
        self, ids: list[str], batch_id: str, send_at: Mapping[str, int | None], why: str
    ) -> bool:
        """Try to make a possibly-delivered request certainly undelivered by cancelling its batch.

        True when the batch is cancelled (the rows may be resent under a new batch).
        Otherwise the rows are flagged in doubt (too late, or the provider refused), or
        left in flight for a later run's recovery when the provider gave no answer.
        """
        if not self._cancellable(send_at.get(i) for i in ids):
            outcome = "refused"
        else:
            outcome = self._cancel_batch(batch_id)
        if outcome == "cancelled":
            return True
        if outcome == "unknown":
            self.report.problems.append(f"batch {batch_id}: could not reach the provider to cancel it")
            logger.warning("%d message(s) in batch %s left for recovery: %s", len(ids), batch_id, why)
            return False
        self.ledger.mark_in_doubt(
            ids, batch_id, f"in doubt: {why}; batch {batch_id} can no longer be cancelled, not resent"
        )
        logger.warning("%d message(s) in batch %s are in doubt: %s", len(ids), batch_id, why)
        return False

    def _cancellable(self, send_at: Iterable[int | None]) -> bool:
        """SendGrid allows cancelling until 10 minutes before send_at; keep a safety margin."""
        times = list(send_at)
        if not times or any(t is None for t in times):
            return False
        deadline = self.clock() + CANCEL_WINDOW_SECONDS + _CANCEL_SAFETY_SECONDS
        return min(t for t in times if t is not None) >= deadline

    # -- recovery ------------------------------------------------------------

    def recover(self, run_dates: Sequence[str]) -> None:
        """Resolve rows a crashed sender left in flight: cancel and requeue, or flag in doubt."""
        stale = [
            r for r in self.ledger.stale_in_flight(run_dates, self.stale_after_seconds) if not r.in_doubt
        ]
        for batch_id, batch_rows in groupby(stale, key=lambda r: r.batch_id):
            rows = list(batch_rows)
            ids = [r.send_id for r in rows]
            if batch_id is None:
                self.report.recovered += self.ledger.release(ids, None, "recovered: claimed without a batch")
                continue
            send_at = {r.send_id: r.send_at for r in rows}
            crashpoint("before_recovery_cancel")
            if self._settle_ambiguous(ids, batch_id, send_at, "interrupted send (crashed sender)"):
                crashpoint("after_recovery_cancel")
                released = self.ledger.release(
                    ids, batch_id, f"recovered: interrupted send, batch {batch_id} cancelled, requeued"
                )
                crashpoint("after_recovery_release")
                self.report.recovered += released
                logger.warning("recovered %d interrupted message(s): batch %s cancelled", released, batch_id)

    # -- sending -------------------------------------------------------------

    def send_at_for(self, group: Sequence[OutboundMessage]) -> dict[str, int | None]:
        """Each message's send time, pushed to at least `min_lead_seconds` from now."""
        if self.min_lead_seconds <= 0:
            return {m.send_id: m.send_at for m in group}
        floor = math.ceil(self.clock() + self.min_lead_seconds)
        return {m.send_id: max(m.send_at or 0, floor) for m in group}

    def send_group(self, group: Sequence[OutboundMessage]) -> None:
        ids = [m.send_id for m in group]
        # No state check first: run() sent only rows it saw planned, and the claim below
        # takes only rows still planned (a concurrent sender's rows cost one unused batch id).
        crashpoint("before_create_batch")
        batch_id = self._create_batch()
        if batch_id is None:
            return
        crashpoint("after_create_batch")
        send_at = self.send_at_for(group)
        claimed = set(self.ledger.claim(ids, batch_id, send_at=send_at, count_attempt=True))
        crashpoint("after_claim")
        if claimed:
            # One personalization per claimed id, even if the input repeated a message.
            first: dict[str, OutboundMessage] = {}
            for message in group:
                if message.send_id in claimed:
                    first.setdefault(message.send_id, message)
            pending = list(first.values())
            self.post(pending, batch_id, {k: send_at[k] for k in claimed})

    def post(self, pending: list[OutboundMessage], batch_id: str, send_at: dict[str, int | None]) -> None:
        """Send one claimed request until every row in it is accepted, failed or in doubt."""
        attempt = 0
        counted = True  # the claim counted the first attempt
        while pending:
            ids = [m.send_id for m in pending]
            body = build_mail(pending, self.options, batch_id=batch_id, send_at=send_at)
            if not counted:
                self.ledger.record_attempt(ids, batch_id)
            counted = False
            crashpoint("before_post")
            crashpoint("during_post")  # armed with a delay: dies while the sink is slow to answer
            self._count("requests")
            result = self._call(
                lambda body=body: self.client.client.mail.send.post(
                    request_body=body, timeout=self.policy.timeout_seconds
                )
            )
            crashpoint(f"after_post_{result.kind}")
            if result.kind == "ok":
                accepted = self.ledger.mark_accepted(ids, batch_id)
                crashpoint("after_mark_accepted")
                self._count("sent_this_run", accepted)
                logger.info("accepted %d message(s) in batch %s (HTTP %s)", accepted, batch_id, result.status)
                return
            if result.kind == "config":
                self.ledger.release(ids, batch_id, result.reason)
                raise _AbortRun(f"mail send refused: {result.reason}")
            if result.kind == "rejected":
                pending = self._fail_rejected(pending, batch_id, result)
                continue
            if attempt >= self.policy.max_retries:
                self._give_up(ids, batch_id, send_at, result, attempt + 1)
                return
            attempt += 1
            self._count("retries")
            if result.kind == "rate_limited":
                if result.wait > self.policy.max_rate_limit_wait:
                    self.ledger.release(ids, batch_id, result.reason)
                    raise _AbortRun(f"rate limited for {result.wait:.0f}s, beyond max_rate_limit_wait")
                wait = result.wait + self.rng.uniform(0, self.policy.jitter)
                logger.info("batch %s rate limited; waiting %.2fs", batch_id, wait)
                crashpoint("during_rate_limit_wait")
                self.sleep(wait)
                continue
            if result.kind == "ambiguous":
                new_batch = self._rebatch(ids, batch_id, send_at, result)
                if new_batch is None:
                    return
                batch_id = new_batch
            logger.info("batch %s: %s; retry %d", batch_id, result.reason, attempt)
            crashpoint("during_backoff")
            self.sleep(self.policy.backoff(attempt, self.rng))

    def _rebatch(
        self, ids: list[str], batch_id: str, send_at: Mapping[str, int | None], result: _Result
    ) -> str | None:
        """After a possibly-delivered request: cancel its batch and move the rows to a new one.

        Returns the new batch id, or None when the rows were settled here (in doubt, left
        for recovery, or requeued because no new batch id could be had).
        """
        crashpoint("before_rebatch_cancel")
        if not self._settle_ambiguous(ids, batch_id, send_at, result.reason):
            return None
        crashpoint("after_rebatch_cancel")
        new_batch = self._create_batch()
        if new_batch is None:
            self.ledger.release(ids, batch_id, f"batch {batch_id} cancelled after: {result.reason}")
            return None
        crashpoint("after_rebatch_new_batch")
        self.ledger.rebatch(ids, batch_id, new_batch)
        crashpoint("after_rebatch")
        logger.info("batch %s cancelled after %s; resending as batch %s", batch_id, result.reason, new_batch)
        return new_batch

    def _fail_rejected(
        self, pending: list[OutboundMessage], batch_id: str, result: _Result
    ) -> list[OutboundMessage]:
        """Fail what the provider refused; if it named single personalizations, keep the rest."""
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
            failed = self.ledger.mark_failed([m.send_id for m in pending], result.reason, batch_id)
            logger.warning("batch %s: %d message(s) failed: %s", batch_id, failed, result.reason)
            return []
        for index, reasons in bad.items():
            self.ledger.mark_failed([pending[index].send_id], "; ".join(reasons), batch_id)
        logger.warning("batch %s: %d message(s) refused individually; resending the rest", batch_id, len(bad))
        return [m for i, m in enumerate(pending) if i not in bad]

    def _give_up(
        self, ids: list[str], batch_id: str, send_at: Mapping[str, int | None], result: _Result, attempts: int
    ) -> None:
        reason = f"gave up after {attempts} attempt(s): {result.reason}"
        if result.kind == "unreachable":  # never left: nothing to undo, and nothing else will get through
            self.ledger.release(ids, batch_id, reason)
            raise _AbortRun(f"provider unreachable: {reason}")
        if result.kind == "ambiguous":
            if not self._settle_ambiguous(ids, batch_id, send_at, reason):
                return
            reason += f"; batch {batch_id} cancelled"
        crashpoint("before_give_up")
        self.ledger.mark_failed(ids, reason, batch_id)
        logger.warning("batch %s: %d message(s) failed: %s", batch_id, len(ids), reason)

    def _count(self, name: str, n: int = 1) -> None:
        with self._report_lock:
            setattr(self.report, name, getattr(self.report, name) + n)

    # -- the run -------------------------------------------------------------

    def run(self, messages: Iterable[OutboundMessage], run_dates: Sequence[str]) -> DeliveryReport:
        """Plan, recover and send the messages chunk by chunk, so the day is never all in memory.

        Each chunk of `plan_chunk` messages is planned in one ledger transaction, then
        its still-planned rows are grouped into requests; a request goes out as soon as
        it is full (or at the end), while later chunks are still being read. A run date
        is recovered (rows a crashed sender left in flight) before its first message is
        sent. After an abort the rest of the input is still planned, unsent, so the
        report counts every message of the run.
        """
        dates = set(run_dates)
        recovered: set[str] = set()
        # Ten part-full requests may wait for company; more distinct keys go out part-full.
        grouper = RequestGrouper(self.batch_size, max_held=10 * self.batch_size)
        requests = _Requests(self)
        try:
            if run_dates:
                self.recover(sorted(run_dates))
                recovered.update(run_dates)
                crashpoint("after_recovery")
            for chunk in _unique_chunks(messages, self.plan_chunk):
                crashpoint("before_plan")
                all_new = self.ledger.plan_messages(chunk) == len(chunk)
                crashpoint("after_plan")
                chunk_dates = {m.run_date for m in chunk}
                dates |= chunk_dates
                if requests.stopped:
                    continue  # planned for the report and the next run; nothing more is sent
                if chunk_dates - recovered:
                    self.recover(sorted(chunk_dates - recovered))
                    recovered |= chunk_dates
                    crashpoint("after_recovery")
                for group in grouper.add(self._sendable(chunk, all_new)):
                    requests.send(group)
            for group in grouper.flush():
                requests.send(group)
        except _AbortRun as exc:  # raised on this thread (a worker's abort is caught by _Requests)
            requests.abort = requests.abort or exc
        finally:
            requests.close()
        if requests.abort is not None:
            self.report.problems.append(redact(str(requests.abort)))
            logger.error("delivery stopped: %s", redact(str(requests.abort)))
        self.report.run_dates = sorted(dates)
        return self._finish(self.report.run_dates)

    def _sendable(self, chunk: list[OutboundMessage], all_new: bool) -> list[OutboundMessage]:
        """The chunk's still-planned messages that can go now; local refusals fail right here.

        `all_new`: planning just inserted every row, so all are planned and the ledger
        need not be asked (a claim still takes only rows that are planned when it runs).
        """
        states = None if all_new else self.ledger.states([m.send_id for m in chunk])
        horizon = self.clock() + MAX_SEND_AT_AHEAD_SECONDS - 2 * CANCEL_WINDOW_SECONDS
        sendable: list[OutboundMessage] = []
        refused: dict[str, list[str]] = {}
        for message in chunk:
            if states is not None and states.get(message.send_id) != "planned":
                continue
            problem = local_problem(message)
            if problem is not None:
                refused.setdefault(problem, []).append(message.send_id)
            elif message.send_at is not None and message.send_at > horizon:
                self.report.deferred += 1  # too early to schedule; a later run sends it
            else:
                sendable.append(message)
        for problem, ids in refused.items():
            self.ledger.mark_failed(ids, problem)
        return sendable

    def _finish(self, run_dates: Sequence[str]) -> DeliveryReport:
        report = self.report
        for run_date in run_dates:
            counts = self.ledger.counts(run_date)
            report.accepted += counts["accepted"]
            report.failed += counts["failed"]
            report.held += counts["held"]
            report.cancelled += counts["cancelled"]
            report.in_doubt += counts["in_doubt"]
            report.pending += counts["planned"] + counts["in_flight"] - counts["in_doubt"]
            report.failed_send_ids += [r.send_id for r in self.ledger.rows(run_date, state="failed")]
            report.in_doubt_send_ids += [
                r.send_id for r in self.ledger.rows(run_date, state="in_flight") if r.in_doubt
            ]
        logger.info(
            "delivery for %s: accepted=%d failed=%d held=%d in_doubt=%d pending=%d "
            "(sent now %d, %d requests)",
            ", ".join(run_dates),
            report.accepted,
            report.failed,
            report.held,
            report.in_doubt,
            report.pending,
            report.sent_this_run,
            report.requests,
        )
        return report


class _Requests:
    """Sends a run's requests one after another, or keeps up to `concurrency` in flight.

    Each request has its own batch id and claim, so requests are independent. With
    concurrency > 1 the caller's thread goes on planning and grouping while worker
    threads send, and `send` blocks while `concurrency` requests are outstanding, so
    the day is never queued in memory. An abort (bad key, rate limit beyond patience)
    stops requests not yet started; `abort` holds it, `stopped` says so.
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
    stale_after_seconds: float = 300,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
    rng: random.Random | None = None,
    concurrency: int = 1,
    plan_chunk: int = 50_000,
) -> DeliveryReport:
    """Send every planned message exactly once and report where each one stands.

    `messages` are planned in the ledger before they are sent (insert-or-ignore, so a
    rerun never resets a row), `plan_chunk` at a time in one transaction each; `messages`
    may be a generator, and requests go out while the rest is still being read, so memory
    stays flat however big the day. Only rows still `planned` are sent; accepted, failed,
    held and in-doubt rows are left alone, which makes calling this again always safe.
    `run_date` adds a run date to the report even when `messages` is empty.
    `min_lead_seconds=0` sends immediately but makes timeouts unrecoverable (in doubt).
    Keep `stale_after_seconds` well above one request's worst case (timeout x retries),
    and `min_lead_seconds` above `stale_after_seconds` + 10 minutes so a crashed run's
    batches are still cancellable when the next run recovers them.
    `concurrency` > 1 keeps that many requests in flight at once (each its own batch).
    """
    quiet_client_logging()
    if plan_chunk < 1:
        raise ValueError("plan_chunk must be at least 1")
    delivery = _Delivery(
        ledger,
        client,
        options,
        policy=policy or RetryPolicy(),
        batch_size=batch_size,
        min_lead_seconds=min_lead_seconds,
        stale_after_seconds=stale_after_seconds,
        sleep=sleep,
        clock=clock,
        rng=rng or random.Random(),
        concurrency=max(1, int(concurrency)),
        plan_chunk=plan_chunk,
    )
    return delivery.run(messages, [str(run_date)[:10]] if run_date else [])
