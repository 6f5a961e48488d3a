"""Deliver a run date's planned texts through Twilio's Messages API, exactly once.

The same ledger, states, leases and report as email (sender.py); only the provider's calls
differ (twilio_provider.py). Twilio has no batches, so each text is its own request:

* The ledger claims the row (state in flight, under a claim id `sms-<first claim time>-<random>`,
  and this sender's id) in one commit before the create; the first claim's time stays in the id
  through every resend, so a later lookup knows since when the text may exist at Twilio.
* Every text is scheduled (`SendAt`) at least `lead_seconds` ahead (more than Twilio's 300 s) and
  at most 35 days ahead; a text meant for later waits for a later run.
* 201: accepted. 429: wait as `Retry-After` says and try again, never giving the text up while its
  window is open. Other 4xx: failed with Twilio's code (21610, the recipient replied STOP, is never
  retried). 401/403/404/405: the credentials or the account are wrong; the run stops, rows
  planned. A refused connection: never left; retried, then the run stops.
* Timeouts, dropped connections and 5xx are ambiguous: Twilio may have created the text. The row
  is marked in doubt and, after `settle_delay_seconds` (a request still on its way lands first),
  settled by listing the recipient's messages: a scheduled one with this body created since the
  first claim is this text, recorded accepted (a second such copy is cancelled, so one send id
  never has two live texts); none means Twilio has nothing, and the text is sent again. Once the
  lookup can no longer finish before the `SendAt` asked for, the row expires in doubt (Twilio may
  have it, never resent).
* A sender that is gone (a kill, an OOM) leaves rows in flight; the next run settles each the same
  way, by lookup, before sending that text again, using the text from its input (the ledger keeps
  no number or body). A row whose text is not in the input stays in doubt for a later run.
* `crashpoint(...)` calls mark the steps the SIGKILL suite kills the sender at.

Logs carry counts, send ids and Twilio's codes; never a number, a body or a secret.
"""

from __future__ import annotations

import logging
import math
import random
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from twilio.rest import Client

from reengage.defs.delivery.crashpoints import crashpoint
from reengage.defs.delivery.leases import DEFAULT_LEASE_SECONDS, SenderLease, live_senders
from reengage.defs.delivery.ledger import LedgerRow, SendLedger
from reengage.defs.delivery.provider import RetryPolicy
from reengage.defs.delivery.report import DeliveryReport
from reengage.defs.delivery.request import AbortRun
from reengage.defs.delivery.request_pool import RequestPool
from reengage.defs.delivery.sender import unique_chunks
from reengage.defs.delivery.settling import closed_reason, expire_closed
from reengage.defs.delivery.twilio_provider import TwilioProvider
from reengage.defs.delivery.windows import SendWindows
from reengage.phones import VALID_NUMBER
from reengage.send_ids import iso_date, send_id

logger = logging.getLogger(__name__)

SMS = "sms"
MIN_SCHEDULE_AHEAD_SECONDS = 300  # Twilio refuses a SendAt closer than this (35114)
MAX_SCHEDULE_AHEAD_SECONDS = 35 * 86400  # ... or further than this
MAX_BODY_CHARACTERS = 1600  # Twilio's limit on a Body (21617)
# A lookup must be over this long before the SendAt asked for: the text is still `scheduled` then.
LOOKUP_MARGIN_SECONDS = 60
# A SendAt this close to Twilio's minimum is moved later before the next try (clock skew, the round trip).
SEND_AT_MARGIN_SECONDS = 30
CLAIM_PREFIX = "sms-"


@dataclass(frozen=True)
class SmsMessage:
    """One text to one customer for one campaign on one run date; the repr leaves out number and body."""

    customer_id: str
    campaign_id: str
    variant: str | None
    run_date: str
    to: str = field(repr=False)
    body: str = field(repr=False)
    send_at: int | None = None  # when it should go out (unix time); None: as soon as the lead allows
    channel: str = SMS

    def __post_init__(self) -> None:
        object.__setattr__(self, "run_date", iso_date(self.run_date))
        object.__setattr__(self, "customer_id", str(self.customer_id))
        object.__setattr__(self, "campaign_id", str(self.campaign_id))
        object.__setattr__(self, "_send_id", send_id(self.customer_id, self.campaign_id, self.run_date, SMS))

    @property
    def send_id(self) -> str:
        return str(self.__dict__["_send_id"])

    def callback_params(self) -> dict[str, str]:
        """Carried back in every status callback (its URL's query), so responses join to the send
        and its campaign, as an email's custom args do."""
        params = {"send_id": self.send_id, "campaign_id": self.campaign_id, "run_date": self.run_date}
        return params | ({"variant": self.variant} if self.variant is not None else {})


def local_problem(message: SmsMessage) -> str | None:
    """A reason Twilio would certainly refuse the text, found before any request (never quoting it)."""
    if not re.fullmatch(VALID_NUMBER, message.to or ""):
        return "refused before sending: the number is not E.164"
    if not message.body:
        return "refused before sending: empty body"
    if len(message.body) > MAX_BODY_CHARACTERS:
        return f"refused before sending: body over {MAX_BODY_CHARACTERS} characters"
    return None


def claim_id(first_claim: float) -> str:
    """A fresh claim id that carries the time the row was first claimed (whole seconds)."""
    return f"{CLAIM_PREFIX}{math.floor(first_claim)}-{secrets.token_hex(6)}"


def first_claim_time(claim: str | None) -> float | None:
    """When the row under this claim id was first claimed, or None for an id that is not an SMS claim."""
    if not claim or not claim.startswith(CLAIM_PREFIX):
        return None
    try:
        return float(claim.removeprefix(CLAIM_PREFIX).split("-", 1)[0])
    except ValueError:
        return None


class SendPace:
    """Hands out turns to create texts: at most `per_second` overall, and `per_number_seconds` apart
    for one number. Thread-safe; waits with `sleep`. Numbers live in memory only, for this run."""

    def __init__(
        self,
        per_second: float,
        per_number_seconds: float,
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
    ) -> None:
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self.per_number_seconds = max(0.0, per_number_seconds)
        self.clock = clock
        self.sleep = sleep
        self._lock = threading.Lock()
        self._next = 0.0
        self._next_for: dict[str, float] = {}

    def wait_turn(self, number: str) -> None:
        with self._lock:
            now = self.clock()
            turn = max(now, self._next, self._next_for.get(number, 0.0))
            self._next = turn + self.interval
            if self.per_number_seconds:
                self._next_for[number] = turn + self.per_number_seconds
        if turn > now:
            self.sleep(turn - now)


@dataclass
class _Claimed:
    message: SmsMessage
    claim: str
    send_at: int
    send_by: int
    last_reason: str = ""


class SmsDelivery:
    """One SMS delivery run; holds the collaborators so the steps stay short."""

    def __init__(
        self,
        ledger: SendLedger,
        provider: TwilioProvider,
        *,
        windows: SendWindows,
        pace: SendPace,
        settle_delay_seconds: float,
        clock_skew_seconds: float,
        lease_seconds: float,
        concurrency: int,
        plan_chunk: int,
        run_id: str | None,
    ) -> None:
        self.ledger = ledger
        self.provider = provider
        self.policy = provider.policy
        self.clock = provider.clock
        self.sleep = provider.sleep
        self.windows = windows
        self.pace = pace
        self.settle_delay_seconds = settle_delay_seconds
        self.clock_skew_seconds = clock_skew_seconds
        self.lease_seconds = lease_seconds
        self.concurrency = concurrency
        self.plan_chunk = plan_chunk
        self.run_id = run_id
        self.report = DeliveryReport(run_dates=[])
        self.provider.on_retry = lambda: self.report.count("retries")
        self.sender_id: str | None = None
        self._abandoned: dict[str, LedgerRow] = {}
        self._abandoned_lock = threading.Lock()

    # -- the run -------------------------------------------------------------

    def run(self, messages: Iterable[SmsMessage], run_dates: Sequence[str]) -> DeliveryReport:
        with SenderLease(self.ledger, run_id=self.run_id, lease_seconds=self.lease_seconds) as lease:
            self.sender_id = lease.sender_id
            return self._run(messages, run_dates)

    def _run(self, messages: Iterable[SmsMessage], run_dates: Sequence[str]) -> DeliveryReport:
        dates = set(run_dates)
        recovered: set[str] = set()
        pool = RequestPool(self._send_group, self.concurrency)
        try:
            if run_dates:
                self._find_abandoned(sorted(run_dates))
                recovered.update(run_dates)
                crashpoint("after_recovery")
            for chunk in unique_chunks(messages, self.plan_chunk):
                crashpoint("before_plan")
                self.ledger.plan_messages(chunk, send_by=self.windows.window_ends(chunk, self.clock()))
                crashpoint("after_plan")
                chunk_dates = {m.run_date for m in chunk}
                dates |= chunk_dates
                if pool.stopped:
                    continue
                if chunk_dates - recovered:
                    self._find_abandoned(sorted(chunk_dates - recovered))
                    recovered |= chunk_dates
                for message in self._sendable(chunk):
                    pool.send([message])
        except AbortRun as exc:
            pool.abort = pool.abort or exc
        finally:
            pool.close()
        if pool.abort is not None:
            self.report.problem(str(pool.abort))
            logger.error("SMS delivery stopped: %s", pool.abort)
        self.report.run_dates = sorted(dates)
        expire_closed(self.ledger, self.windows, self.report.run_dates, self.clock(), (SMS,))
        self.report.read_ledger(self.ledger, (SMS,))
        r = self.report
        logger.info(
            "SMS delivery for %s: accepted=%d failed=%d expired=%d held=%d in_doubt=%d pending=%d "
            "(sent now %d, %d requests, %d recovered, %d cancels)",
            ", ".join(r.run_dates), r.accepted, r.failed, r.expired, r.held, r.in_doubt, r.pending,
            r.sent_this_run, r.requests, r.recovered, r.cancels,
        )  # fmt: skip
        return r

    def _find_abandoned(self, run_dates: Sequence[str]) -> None:
        """Note the run dates' SMS rows in flight whose sender is gone: each is settled by lookup
        when its text comes by in the input (the ledger keeps no number or body to look it up by)."""
        alive = live_senders(self.ledger, self.lease_seconds) | {self.sender_id}
        rows = [r for r in self.ledger.in_flight(run_dates) if r.channel == SMS and r.claimed_by not in alive]
        with self._abandoned_lock:
            self._abandoned.update((r.send_id, r) for r in rows)

    def _sendable(self, chunk: list[SmsMessage]) -> list[SmsMessage]:
        """The chunk's texts to work on now: planned ones that can go, and abandoned ones to settle.

        A local refusal fails the row, a closed window expires it, a text meant for more than
        35 days ahead waits for a later run.
        """
        now = self.clock()
        planned = self.ledger.planned_send_by([m.send_id for m in chunk])
        horizon = now + MAX_SCHEDULE_AHEAD_SECONDS - LOOKUP_MARGIN_SECONDS
        out: list[SmsMessage] = []
        for message in chunk:
            sid = message.send_id
            if sid in self._abandoned:  # its ledger writes are guarded by the claim id it was left under
                out.append(message)
                continue
            if sid not in planned:
                continue
            send_by = self.windows.row_send_by(*planned[sid])
            problem = local_problem(message)
            if problem is not None:
                self.ledger.mark_failed([sid], problem)
            elif message.send_at is not None and message.send_at > horizon:
                self.report.count("deferred")
            elif not self.windows.is_open(send_by, now):
                self.ledger.expire([sid], closed_reason(send_by, "not sent in time"))
            else:
                out.append(message)
        return out

    def _send_group(self, group: list[SmsMessage]) -> None:
        for message in group:
            self._send(message)

    def _send(self, message: SmsMessage) -> None:
        with self._abandoned_lock:
            row = self._abandoned.pop(message.send_id, None)
        if row is not None and not self._recover(message, row):
            return
        self._claim_and_post(message)

    # -- recovery ------------------------------------------------------------

    def _recover(self, message: SmsMessage, row: LedgerRow) -> bool:
        """Settle a row a gone sender left in flight; True when Twilio has no such text and it was
        released to be sent again now."""
        why = "its sender stopped before the outcome was recorded"
        since = datetime.fromisoformat(row.updated_at).timestamp()
        claimed = _Claimed(message, row.batch_id or "", row.send_at or 0, row.send_by or 0)
        if first_claim_time(row.batch_id) is None or row.send_at is None:
            self.ledger.mark_in_doubt(
                [message.send_id], row.batch_id or "", f"in doubt: {why}; no claim time"
            )
            return False
        verdict = self._settle(claimed, why, since=since)
        crashpoint("after_recovery_settle")
        if verdict == "resend":
            released = self.ledger.release(
                [message.send_id], row.batch_id, f"recovered: {why}; not at Twilio"
            )
            self.report.count("recovered", released)
            return bool(released)
        if verdict == "accepted":
            self.report.count("recovered")
        return False

    # -- one text ------------------------------------------------------------

    def _claim_and_post(self, message: SmsMessage) -> None:
        sid = message.send_id
        now = self.clock()
        claim = claim_id(now)
        send_at = self._send_at(message, now)
        crashpoint("before_claim")
        claimed = self.ledger.claim_for_send(
            [sid], claim, send_at={sid: send_at}, count_attempt=True, claimed_by=self.sender_id
        )
        crashpoint("after_claim")
        if sid not in claimed:
            return  # another sender's, or settled meanwhile
        send_by = claimed[sid] or self.windows.send_by(message.send_at, now)
        self._post(_Claimed(message, claim, send_at, send_by))

    def _send_at(self, message: SmsMessage, now: float) -> int:
        return int(self.windows.send_times([message], now)[message.send_id] or math.ceil(now))

    def _post(self, text: _Claimed) -> None:
        """Create the text until it is accepted, failed, expired or left in doubt."""
        sid = text.message.send_id
        attempt = refused = 0
        counted = True  # the claim counted the first attempt
        while True:
            if not self._still_sendable(text):
                return
            if not counted and not self.ledger.record_attempt([sid], text.claim):
                return  # recovered by another run meanwhile: no longer ours
            counted = False
            self.pace.wait_turn(text.message.to)
            crashpoint("before_post")
            crashpoint("during_post")
            self.report.count("requests")
            result = self.provider.create(
                text.message.to, text.message.body, text.send_at, text.message.callback_params()
            )
            crashpoint(f"after_post_{result.kind}")
            if result.kind == "ok":
                self.ledger.mark_accepted([sid], text.claim)
                crashpoint("after_mark_accepted")
                self.report.count("sent_this_run")
                return
            if result.kind == "rejected":
                self.ledger.mark_failed([sid], result.reason, text.claim, end_request=True)
                logger.warning("text %s failed: %s", sid, result.reason)
                return
            if result.kind == "config":
                self.ledger.release([sid], text.claim, result.reason)
                raise AbortRun(f"Twilio refused the request: {result.reason}")
            text.last_reason = result.reason
            self.report.count("retries")
            if result.kind == "rate_limited":
                if not self._wait_out_rate_limit(text, result.wait):
                    return
                continue
            if result.kind == "unreachable":
                refused += 1
                if refused > self.policy.max_retries:  # never left: nothing to settle
                    self.ledger.release([sid], text.claim, f"{refused} attempts refused: {result.reason}")
                    raise AbortRun(f"Twilio unreachable: {result.reason}")
            else:  # ambiguous: Twilio may have it
                verdict = self._settle(text, result.reason, since=self.clock())
                if verdict == "accepted":
                    self.report.count("sent_this_run")
                if verdict != "resend" or not self._move_to_new_claim(text):
                    return
                continue  # Twilio has nothing: send again at once, under the new claim
            attempt += 1
            crashpoint("during_backoff")
            self.sleep(self.policy.backoff(attempt, self.provider.rng))

    def _wait_out_rate_limit(self, text: _Claimed, wait: float) -> bool:
        """Wait as Twilio asked; False (the row expired) when that is after the window closes."""
        wait += self.provider.rng.uniform(0, self.policy.jitter)
        if not self.windows.is_open(text.send_by, self.clock() + wait):
            reason = closed_reason(text.send_by, f"rate limited until after the window: {text.last_reason}")
            self.ledger.expire([text.message.send_id], reason, text.claim, end_request=True)
            return False
        crashpoint("during_rate_limit_wait")
        self.sleep(wait)
        return True

    def _still_sendable(self, text: _Claimed) -> bool:
        """Before each try: expire the row once its window has closed, and ask for a later SendAt
        when waiting brought the one asked for too close for Twilio."""
        now = self.clock()
        if not self.windows.is_open(text.send_by, now):
            reason = closed_reason(text.send_by, text.last_reason or "not sent in time")
            self.ledger.expire([text.message.send_id], reason, text.claim, end_request=True)
            logger.warning(
                "text %s expired: %s", text.message.send_id, text.last_reason or "not sent in time"
            )
            return False
        if text.send_at < now + MIN_SCHEDULE_AHEAD_SECONDS + SEND_AT_MARGIN_SECONDS:
            return self._move_to_new_claim(text)
        return True

    def _move_to_new_claim(self, text: _Claimed) -> bool:
        """Go on under a fresh claim id (the first claim's time kept) and a SendAt far enough ahead;
        False when the row is no longer ours."""
        first = first_claim_time(text.claim) or self.clock()
        new_claim = claim_id(first)
        send_at = self._send_at(text.message, self.clock())
        sid = text.message.send_id
        moved = self.ledger.rebatch([sid], text.claim, new_claim, send_at={sid: send_at})
        crashpoint("after_rebatch")
        if not moved:
            return False
        text.claim, text.send_at = new_claim, send_at
        return True

    # -- settling an ambiguous create ----------------------------------------

    def _settle(self, text: _Claimed, why: str, *, since: float) -> str:
        """Settle a create that may have reached Twilio: 'accepted', 'resend', 'expired' or 'in_doubt'.

        `since`: when the last request may have left; the lookup waits `settle_delay_seconds` after it.
        """
        sid, claim = text.message.send_id, text.claim
        self.ledger.mark_in_doubt([sid], claim, f"in doubt: {why}; looking it up at Twilio")
        deadline = text.send_at - LOOKUP_MARGIN_SECONDS
        first = first_claim_time(claim)
        lookup_at = since + self.settle_delay_seconds
        if first is None or lookup_at > deadline:
            return self._expire_in_doubt(text, why, "too late to look it up before its SendAt")
        if lookup_at > self.clock():
            self.sleep(lookup_at - self.clock())
        crashpoint("before_find")
        found = self.provider.find(
            text.message.to, text.message.body, first - self.clock_skew_seconds, until=deadline
        )
        crashpoint("after_find")
        if self.clock() > deadline:
            return self._expire_in_doubt(text, why, "the lookup ended after its SendAt")
        if found.outcome.kind != "ok":
            reason = f"in doubt: {why}; looking it up failed: {found.outcome.reason}"
            self.ledger.mark_in_doubt([sid], claim, reason)
            self.report.problem(f"text {sid}: {found.outcome.reason}")
            return "in_doubt"
        if not found.sids:
            logger.info("text %s: not at Twilio after %s; sending it again", sid, why)
            return "resend"
        for duplicate in found.sids[1:]:  # one send id, one live text: cancel any second copy
            crashpoint("before_settle_cancel")
            cancelled = self.provider.cancel(duplicate, until=deadline)
            crashpoint("after_settle_cancel")
            if cancelled.kind != "ok":
                self.ledger.mark_in_doubt(
                    [sid], claim, f"in doubt: a second copy not cancelled: {cancelled.reason}"
                )
                self.report.problem(f"text {sid}: a second copy not cancelled: {cancelled.reason}")
                return "in_doubt"
            self.report.count("cancels")
        self.ledger.mark_accepted([sid], claim)
        crashpoint("after_settle_accepted")
        logger.info("text %s: found at Twilio after %s; recorded accepted", sid, why)
        return "accepted"

    def _expire_in_doubt(self, text: _Claimed, why: str, when: str) -> str:
        reason = f"in doubt: {why}; {when}; the provider may have it, not resent"
        self.ledger.expire([text.message.send_id], reason, text.claim, end_request=True)
        logger.warning("text %s expired in doubt: %s", text.message.send_id, when)
        return "expired"


def deliver_sms(
    ledger: SendLedger,
    messages: Iterable[SmsMessage],
    provider: TwilioProvider,
    *,
    run_date: str | date | None = None,
    lead_seconds: float = 360,
    max_delay_seconds: float = 6 * 3600,
    messages_per_second: float = 10.0,
    seconds_between_texts_to_one_number: float = 1.0,
    settle_delay_seconds: float = 30.0,
    clock_skew_seconds: float = 30.0,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    concurrency: int = 4,
    plan_chunk: int = 50_000,
    run_id: str | None = None,
) -> DeliveryReport:
    """Send every planned text exactly once and report where each one stands (see the module docstring).

    Calling it again is always safe: only rows still planned are sent, and rows a gone sender
    left in flight are settled by lookup first. `lead_seconds` must exceed Twilio's 300 s by
    enough for an ambiguous create to be looked up (`settle_delay_seconds`) before its SendAt.
    """
    if lead_seconds <= MIN_SCHEDULE_AHEAD_SECONDS + SEND_AT_MARGIN_SECONDS:
        raise ValueError(f"lead_seconds must exceed {MIN_SCHEDULE_AHEAD_SECONDS + SEND_AT_MARGIN_SECONDS}")
    delivery = SmsDelivery(
        ledger,
        provider,
        windows=SendWindows(min_lead_seconds=lead_seconds, max_delay_seconds=max_delay_seconds),
        pace=SendPace(
            messages_per_second,
            seconds_between_texts_to_one_number,
            clock=provider.clock,
            sleep=provider.sleep,
        ),
        settle_delay_seconds=settle_delay_seconds,
        clock_skew_seconds=clock_skew_seconds,
        lease_seconds=lease_seconds,
        concurrency=max(1, int(concurrency)),
        plan_chunk=plan_chunk,
        run_id=run_id,
    )
    return delivery.run(messages, [iso_date(run_date)] if run_date else [])


def new_provider(
    new_client: Callable[[], Client],
    *,
    messaging_service_sid: str,
    status_callback: str = "",
    policy: RetryPolicy | None = None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> TwilioProvider:
    """A provider with the production clock, sleep and retry policy unless given."""
    return TwilioProvider(
        new_client,
        policy or RetryPolicy(),
        messaging_service_sid=messaging_service_sid,
        status_callback=status_callback,
        clock=clock,
        sleep=sleep,
        rng=rng or random.Random(),
    )
