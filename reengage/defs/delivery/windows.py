"""When a message may go out, and when its request can still be cancelled: SendGrid's clock rules.

* `send_at` at most 72 hours ahead (payloads.MAX_SEND_AT_AHEAD_SECONDS); a message meant
  for later stays planned (deferred) until a run within that horizon.
* A batch can be cancelled until 10 minutes before its `send_at`; the sender keeps a
  margin on top, for clock skew and the cancel's own round trip.
* At most 10 batches cancelled or paused at once (enforced by cancel_places.py).

The sender schedules every message at least `min_lead_seconds` ahead, so that an
ambiguous answer (a timeout, a dropped connection) can be undone by cancelling its
batch. A message's send window closes `max_delay_seconds` after its send time (or
after it was planned, if later): once a request could no longer go out with the full
lead before then, the message is expired instead of sent late.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from reengage.defs.delivery.payloads import MAX_SEND_AT_AHEAD_SECONDS

CANCEL_WINDOW_SECONDS = 600
CANCEL_MARGIN_SECONDS = 60
MAX_CANCEL_PLACES = 10


@dataclass(frozen=True)
class SendWindows:
    min_lead_seconds: float = 1800
    max_delay_seconds: float = 6 * 3600

    @property
    def cancellable_sends(self) -> bool:
        """Whether requests are scheduled far enough ahead to be cancelled (lead time > 0)."""
        return self.min_lead_seconds > 0

    def send_times(self, messages: Iterable[Any], now: float) -> dict[str, int | None]:
        """{send_id: the time to ask the provider for}: each message's own, pushed to at least the lead."""
        if not self.cancellable_sends:
            return {m.send_id: m.send_at for m in messages}
        floor = math.ceil(now + self.min_lead_seconds)
        return {m.send_id: own if (own := m.send_at) is not None and own > floor else floor for m in messages}

    def send_by(self, own: int | None, planned: float) -> int:
        """The end of a message's window (what the ledger keeps as `send_by` at planning)."""
        return int(max(own or 0, planned) + self.max_delay_seconds)

    def window_ends(self, messages: Iterable[Any], planned: float) -> list[int]:
        """`send_by` of each message planned at `planned`, in order (the hot path's form of it)."""
        delay = self.max_delay_seconds
        floor = int(planned + delay)
        return [
            int(own + delay) if (own := m.send_at) is not None and own > planned else floor for m in messages
        ]

    def row_send_by(self, send_by: int | None, planned_at: str) -> int:
        """A ledger row's window end; rows planned before windows existed count from planned_at."""
        if send_by is not None:
            return send_by
        return self.send_by(None, datetime.fromisoformat(planned_at).timestamp())

    def is_open(self, send_by: int, now: float) -> bool:
        """A request made now can still go out, with the full lead, before the window closes."""
        return now + max(0.0, self.min_lead_seconds) <= send_by

    def cancel_deadline(self, send_ats: Iterable[int | None]) -> float | None:
        """The last moment a batch with these send times may be cancelled (None: never)."""
        times = list(send_ats)
        if not times or any(t is None for t in times):
            return None
        return min(t for t in times if t is not None) - CANCEL_WINDOW_SECONDS - CANCEL_MARGIN_SECONDS

    def cancellable(self, send_ats: Iterable[int | None], now: float) -> bool:
        deadline = self.cancel_deadline(send_ats)
        return deadline is not None and now <= deadline

    @staticmethod
    def deferral_horizon(now: float) -> float:
        """Messages meant to go out after this are too early to hand over (SendGrid's 72 hours)."""
        return now + MAX_SEND_AT_AHEAD_SECONDS - 2 * CANCEL_WINDOW_SECONDS


def iso(unix_time: float) -> str:
    """A unix time as readable UTC, for reasons in the ledger."""
    return datetime.fromtimestamp(unix_time, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
