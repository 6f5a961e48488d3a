"""The account's ten cancel/pause places, shared by every sender of this ledger.

SendGrid lets an account have at most 10 batches cancelled or paused at a time; an 11th
cancel is refused with HTTP 400. A cancelled batch's mail is discarded at its send_at,
after which the cancel has nothing left to act on, and deleting it (DELETE
/v3/user/scheduled_sends/{batch_id}) frees its place for certain. So:

* A request is sent only with a place reserved for it (in the ledger, in the claim's own
  commit): if its answer is ambiguous, the cancel that settles it has a place waiting.
  When every place is held or reserved, senders wait for one (backpressure) instead of
  sending what they could not undo.
* Cancelling turns the reservation into a held place, until the batch's last send time
  (plus a margin) has passed. Then the cancel is deleted at the provider, which cannot
  bring anything back (the mail was discarded at its send time), and the place is free.
* A request that ends (accepted, failed, expired, requeued) gives its reservation back in
  the same commit.

Why one batch per request, not one per wave of requests (one cancel settling many): a
wave's cancel also cancels the wave's accepted requests, which must all be sent again.
Under independent faults that takes as many cancels per message delivered, plus the
resends; it only pays when faults come in bursts. Waiting for a place costs time, and
only while ten cancels are pending.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from reengage.defs.delivery.ledger import NoCancelPlace, SendLedger
from reengage.defs.delivery.provider import Provider
from reengage.defs.delivery.windows import CANCEL_MARGIN_SECONDS, SendWindows, iso

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CancelResult:
    """cancelled: the batch is cancelled (now or before); too_late: it can no longer be, and
    `reason` says why; unknown: no definite answer yet while cancelling is still possible."""

    outcome: str
    reason: str = ""


class CancelPlaces:
    def __init__(
        self,
        ledger: SendLedger,
        provider: Provider,
        windows: SendWindows,
        *,
        limit: int,
        sender_id: str | None,
        poll_seconds: float = 1.0,
        on_cancel: Callable[[], None] = lambda: None,
        on_wait: Callable[[], None] = lambda: None,
    ) -> None:
        self.ledger = ledger
        self.provider = provider
        self.windows = windows
        self.limit = limit
        self.sender_id = sender_id
        self.poll_seconds = poll_seconds
        self.on_cancel = on_cancel
        self.on_wait = on_wait
        self._freeing = threading.Lock()

    @property
    def reserve(self) -> int | None:
        """The place limit to reserve against, or None when sends cannot be cancelled anyway."""
        return self.limit if self.windows.cancellable_sends else None

    def wait_for_room(self, until: float | None) -> bool:
        """Wait until a place is free (True), or give up when none will be before `until` (False)."""
        clock = self.provider.clock
        waited = False
        while True:
            self.free_due()
            places = self.ledger.cancel_places()
            if len(places) < self.limit:
                return True
            now = clock()
            held = [p.frees_at for p in places if p.state == "held" and p.frees_at is not None]
            wake = min(held) if held else float("inf")
            if len(held) < len(places):  # a reservation ends when its request does: look again soon
                wake = min(wake, now + self.poll_seconds)
            if until is not None and wake > until:
                return False
            if not waited:
                self.on_wait()
                waited = True
            self.provider.sleep(max(0.0, wake - now))

    def free_due(self) -> None:
        """Delete the cancels whose batches are past their send time, freeing their places."""
        with self._freeing:
            now = self.provider.clock()
            for place in self.ledger.cancel_places():
                if place.state != "held" or place.frees_at is None or place.frees_at > now:
                    continue
                if self.provider.delete_status(place.batch_id, until=now + self.provider.policy.max_delay):
                    self.ledger.free_place(place.batch_id)
                    logger.info("cancel place of batch %s freed", place.batch_id)

    def cancel(self, batch_id: str, send_ats: Sequence[int | None]) -> CancelResult:
        """Cancel `batch_id`, whose mail was scheduled at `send_ats`, holding a place for it."""
        deadline = self.windows.cancel_deadline(send_ats)
        if deadline is None:
            return CancelResult(
                "too_late", f"batch {batch_id} was sent to go out at once; it cannot be cancelled"
            )
        due = iso(deadline)
        frees_at = max(t for t in send_ats if t is not None) + CANCEL_MARGIN_SECONDS
        while True:
            if self.provider.clock() > deadline:
                return CancelResult("too_late", f"batch {batch_id} could only be cancelled until {due}")
            try:
                self.ledger.hold_place(batch_id, frees_at, self.limit, self.sender_id)
                break
            except NoCancelPlace:
                if not self.wait_for_room(deadline):
                    return CancelResult(
                        "too_late",
                        f"no cancel place came free before {due}, the last moment to cancel batch {batch_id}",
                    )
        self.on_cancel()
        outcome = self.provider.cancel_batch(batch_id, until=deadline)
        if outcome.kind == "ok":
            return CancelResult("cancelled")
        status = self.provider.batch_status(batch_id, until=deadline)
        if status == "cancel":  # an earlier try whose answer was lost went through
            return CancelResult("cancelled")
        if outcome.kind == "rejected" and status == "":
            self.ledger.free_place(batch_id)  # refused: no status was set, the place is not taken
            return CancelResult(
                "too_late", f"the provider refused to cancel batch {batch_id}: {outcome.reason}"
            )
        # Transient answers are retried until the deadline leaves no time for another try: settled
        # as too late. Only a provider that cannot be reached or refuses our key, while there is
        # still time, leaves the rows in doubt for a later run to try again.
        cut_off = outcome.kind in ("unreachable", "config") or (outcome.kind == "rejected" and status is None)
        if cut_off and self.provider.clock() <= deadline:
            return CancelResult("unknown", f"the cancel of batch {batch_id} is unconfirmed: {outcome.reason}")
        return CancelResult("too_late", f"the cancel of batch {batch_id} was not confirmed before {due}")
