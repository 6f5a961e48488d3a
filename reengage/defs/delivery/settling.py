"""Settle what a sender that is gone left in flight, and expire what can no longer go out.

Run by every delivery before it sends a run date's first message, and by
`python -m reengage.cli resolve --date D`:

* in-flight rows whose sender is gone (leases.py), or, for rows claimed before senders
  were recorded, untouched for `legacy_stale_after` seconds: their batch is cancelled
  while SendGrid still allows it (until 10 minutes before its send_at) and the rows go
  back to planned, to be sent again under a new batch; if it is too late, they are
  expired with the reason (the provider may have them: never resent, never twice);
  if the provider gives no definite answer, they stay in doubt for a later attempt;
* planned rows whose send window has closed are expired with the reason.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from itertools import groupby

from reengage.defs.delivery.cancel_places import CancelPlaces
from reengage.defs.delivery.crashpoints import crashpoint
from reengage.defs.delivery.leases import live_senders
from reengage.defs.delivery.ledger import LedgerRow, SendLedger
from reengage.defs.delivery.report import DeliveryReport
from reengage.defs.delivery.windows import CANCEL_MARGIN_SECONDS, CANCEL_WINDOW_SECONDS, SendWindows, iso

logger = logging.getLogger(__name__)


class Settler:
    def __init__(
        self,
        ledger: SendLedger,
        places: CancelPlaces,
        windows: SendWindows,
        report: DeliveryReport,
        *,
        clock: Callable[[], float],
        lease_seconds: float,
        legacy_stale_after: float,
        own_sender_id: str | None,
    ) -> None:
        self.ledger = ledger
        self.places = places
        self.windows = windows
        self.report = report
        self.clock = clock
        self.lease_seconds = lease_seconds
        self.legacy_stale_after = legacy_stale_after
        self.own_sender_id = own_sender_id

    def recover(self, run_dates: Sequence[str]) -> None:
        """Settle the in-flight rows of the run dates whose sender is gone (see the module docstring)."""
        alive = live_senders(self.ledger, self.lease_seconds)
        if self.own_sender_id is not None:
            alive.add(self.own_sender_id)
        abandoned = [r for r in self.ledger.in_flight(run_dates) if r.claimed_by not in (None, *alive)]
        abandoned += [
            r for r in self.ledger.stale_in_flight(run_dates, self.legacy_stale_after) if r.claimed_by is None
        ]
        abandoned.sort(key=lambda r: (r.batch_id or "", r.send_id))
        for batch_id, batch_rows in groupby(abandoned, key=lambda r: r.batch_id):
            self._settle_batch(batch_id, list(batch_rows))
        # A gone sender's reservation is only needed while its batch could still be cancelled.
        cancellable_from = self.clock() + CANCEL_WINDOW_SECONDS + CANCEL_MARGIN_SECONDS
        self.ledger.drop_stray_reservations(sorted(alive), cancellable_from)

    def _settle_batch(self, batch_id: str | None, rows: list[LedgerRow]) -> None:
        ids = [r.send_id for r in rows]
        if batch_id is None:
            self.report.count(
                "recovered", self.ledger.release(ids, None, "recovered: claimed without a batch")
            )
            return
        crashpoint("before_recovery_cancel")
        result = self.places.cancel(batch_id, [r.send_at for r in rows])
        why = "its sender stopped before the outcome was recorded"
        if result.outcome == "cancelled":
            crashpoint("after_recovery_cancel")
            released = self.ledger.release(
                ids, batch_id, f"recovered: {why}; batch {batch_id} cancelled, requeued"
            )
            crashpoint("after_recovery_release")
            self.report.count("recovered", released)
            logger.warning("recovered %d interrupted message(s): batch %s cancelled", released, batch_id)
        elif result.outcome == "too_late":
            expired = self.ledger.expire(
                ids, f"in doubt: {why}; {result.reason}; the provider may have it, not resent", batch_id
            )
            logger.warning(
                "%d interrupted message(s) of batch %s expired: %s", expired, batch_id, result.reason
            )
        else:
            self.ledger.mark_in_doubt(ids, batch_id, f"in doubt: {why}; {result.reason}")
            self.report.problem(f"batch {batch_id}: {result.reason}")

    def expire_closed(self, run_dates: Sequence[str]) -> int:
        """Expire the run dates' planned rows whose send window has closed; returns how many."""
        now = self.clock()
        expired = 0
        for run_date in run_dates:
            closed: dict[int, list[str]] = {}
            for send_id, send_by, planned_at in self.ledger.planned_windows(run_date):
                end = self.windows.row_send_by(send_by, planned_at)
                if not self.windows.is_open(end, now):
                    closed.setdefault(end, []).append(send_id)
            for end, ids in closed.items():
                expired += self.ledger.expire(ids, closed_reason(end, "not sent in time"))
        return expired


def closed_reason(send_by: int, last: str) -> str:
    """Why a row expired because its window closed, with the last thing that stood in its way."""
    return f"send window closed (messages may go out until {iso(send_by)}): {last}"
