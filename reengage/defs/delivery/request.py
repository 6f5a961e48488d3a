"""Take one group of messages from a batch id to every row settled: accepted, failed, expired or in doubt.

* The request gets its own batch id, and the ledger claims its rows under that batch
  id, the sender's id and one of the account's ten cancel places (cancel_places.py)
  in one commit before the POST, so no two senders send a row and a cancel never
  meets SendGrid's limit; with every place taken, the request waits for one.
* A 2xx marks rows accepted; a 4xx marks them failed with the provider's reason
  (a 400 that names single personalizations fails only those, the rest go again).
* 429 is a definite "not accepted": wait as `Retry-After`/`X-RateLimit-Reset` say
  (plus jitter), however many times in a row, and send the same request again.
* 500/503 are documented as "not accepted": retry with exponential backoff. A refused
  connection (the request never left) too, but `max_retries` in a row stop the run:
  nothing listens there. 401/403/404/405 stop the run: the key or host is wrong, and
  rows go back to planned for the next run.
* No transient answer ever fails a message: it is retried until the message's send
  window closes (windows.py), and then expired with the last answer as its reason.
* Timeouts, dropped connections, 502 and 504 are ambiguous: the provider may have the
  request. Each message is scheduled far enough ahead that the batch can still be
  cancelled: the rows are marked in doubt, the batch is cancelled, the rows move to a
  fresh batch and go again. If it is too late to cancel, the rows are expired with the
  reason (the provider may have them: never resent); if the provider cannot be reached
  to cancel, they stay in doubt for a later run or `resolve`.
* A request that waited so long (rate limits, backoff) that an ambiguous answer could no
  longer be cancelled moves to a fresh batch with a fresh send_at before its next try.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from reengage.defs.delivery.cancel_places import CancelPlaces
from reengage.defs.delivery.crashpoints import crashpoint
from reengage.defs.delivery.ledger import NoCancelPlace, SendLedger
from reengage.defs.delivery.outcomes import Outcome, refused_personalizations
from reengage.defs.delivery.payloads import OutboundMessage, PayloadOptions, build_mail
from reengage.defs.delivery.provider import Provider
from reengage.defs.delivery.report import DeliveryReport
from reengage.defs.delivery.settling import closed_reason
from reengage.defs.delivery.windows import SendWindows

logger = logging.getLogger(__name__)


class AbortRun(Exception):
    """Stop sending further requests (bad credentials, nothing listening at the host)."""


@dataclass
class ClaimedRequest:
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


class RequestSender:
    """Sends one sender's requests; requests are independent, so worker threads share one."""

    def __init__(
        self,
        ledger: SendLedger,
        provider: Provider,
        places: CancelPlaces,
        windows: SendWindows,
        report: DeliveryReport,
        options: PayloadOptions,
        *,
        sender_id: str | None,
    ) -> None:
        self.ledger = ledger
        self.provider = provider
        self.policy = provider.policy
        self.clock = provider.clock
        self.places = places
        self.windows = windows
        self.report = report
        self.options = options
        self.sender_id = sender_id

    def send(self, group: Sequence[OutboundMessage], window_ends: Mapping[str, int | None]) -> None:
        """Claim `group` under a new batch and post it; `window_ends` as planning computed them
        (None: not known, the window starts now)."""
        ids = [m.send_id for m in group]
        now = self.clock()
        send_by = {sid: window_ends.get(sid) or self.windows.send_by(None, now) for sid in ids}
        closes = min(send_by.values()) - max(0.0, self.windows.min_lead_seconds)
        # No state check first: the run sends only rows it saw planned, and the claim below
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
        self.post(ClaimedRequest(list(first.values()), batch_id, {sid: send_at[sid] for sid in first}, ends))

    def _new_batch(self, *, until: float) -> str | None:
        result = self.provider.create_batch(until=until)
        if result.kind in ("config", "unreachable"):
            raise AbortRun(f"could not create a batch id: {result.reason}")
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

    def post(self, request: ClaimedRequest) -> None:
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
                raise AbortRun(f"mail send refused: {result.reason}")
            if result.kind == "rejected":
                self._fail_rejected(request, result)
                continue
            request.last_reason = result.reason
            refused = refused + 1 if result.kind == "unreachable" else 0
            if refused > self.policy.max_retries:  # never left: nothing to undo, nothing else gets through
                self.ledger.release(ids, request.batch_id, f"{refused} attempts refused: {result.reason}")
                raise AbortRun(f"provider unreachable: {result.reason}")
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

    def _wait_out_rate_limit(self, request: ClaimedRequest, result: Outcome) -> None:
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

    def _still_sendable(self, request: ClaimedRequest) -> bool:
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

    def _expire(self, request: ClaimedRequest, ids: list[str], last: str) -> None:
        by_end: dict[int, list[str]] = {}
        for sid in ids:
            by_end.setdefault(request.send_by[sid], []).append(sid)
        ending = len(ids) == len(request.pending)
        for end, group in by_end.items():
            self.ledger.expire(group, closed_reason(end, last), request.batch_id, end_request=ending)
        logger.warning("batch %s: %d message(s) expired: %s", request.batch_id, len(ids), last)

    def _settle_ambiguous(self, request: ClaimedRequest, why: str) -> bool:
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

    def _move_to_new_batch(self, request: ClaimedRequest) -> bool:
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

    def _fail_rejected(self, request: ClaimedRequest, result: Outcome) -> None:
        """Fail what the provider refused; if it named single personalizations, keep the rest."""
        pending = request.pending
        bad = refused_personalizations(result, len(pending))
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
