"""Where every message of a delivery's run date(s) stands, in counts and ids (never an address)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from reengage.defs.delivery.ledger import SendLedger


@dataclass
class DeliveryReport:
    """State counts come from the ledger (so they include earlier runs); `sent_this_run`,
    `recovered`, `requests`, `retries`, `cancels` and `place_waits` describe this call.

    `pending` counts rows still planned or in flight without doubt (another sender's, or
    deferred: meant for more than 72 hours ahead); `in_doubt` rows may or may not have
    reached the provider and wait for their batch's cancel to be confirmed.
    """

    run_dates: list[str]
    accepted: int = 0
    failed: int = 0
    expired: int = 0
    held: int = 0
    in_doubt: int = 0
    pending: int = 0
    cancelled: int = 0
    sent_this_run: int = 0
    recovered: int = 0
    deferred: int = 0
    requests: int = 0
    retries: int = 0
    cancels: int = 0
    place_waits: int = 0
    failed_send_ids: list[str] = field(default_factory=list)
    expired_send_ids: list[str] = field(default_factory=list)
    in_doubt_send_ids: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def complete(self) -> bool:
        """True when nothing is left planned, in flight or in doubt."""
        return self.pending == 0 and self.in_doubt == 0

    def count(self, name: str, n: int = 1) -> None:
        """Add to a counter; safe from the sending threads."""
        with self._lock:
            setattr(self, name, getattr(self, name) + n)

    def problem(self, text: str) -> None:
        with self._lock:
            self.problems.append(text)

    def read_ledger(self, ledger: SendLedger) -> None:
        """Fill the state counts and ids from the ledger, for every run date."""
        for run_date in self.run_dates:
            counts = ledger.counts(run_date)
            self.accepted += counts["accepted"]
            self.failed += counts["failed"]
            self.expired += counts["expired"]
            self.held += counts["held"]
            self.cancelled += counts["cancelled"]
            self.in_doubt += counts["in_doubt"]
            self.pending += counts["planned"] + counts["in_flight"] - counts["in_doubt"]
            self.failed_send_ids += [r.send_id for r in ledger.rows(run_date, state="failed")]
            self.expired_send_ids += [r.send_id for r in ledger.rows(run_date, state="expired")]
            self.in_doubt_send_ids += [
                r.send_id for r in ledger.rows(run_date, state="in_flight") if r.in_doubt
            ]

    def as_metadata(self) -> dict[str, Any]:
        """Counts and ids only: safe for Dagster metadata and logs."""
        return {
            "run_dates": ", ".join(self.run_dates),
            "accepted": self.accepted,
            "failed": self.failed,
            "expired": self.expired,
            "held": self.held,
            "in_doubt": self.in_doubt,
            "pending": self.pending,
            "cancelled": self.cancelled,
            "sent_this_run": self.sent_this_run,
            "recovered": self.recovered,
            "deferred": self.deferred,
            "requests": self.requests,
            "retries": self.retries,
            "cancels": self.cancels,
            "place_waits": self.place_waits,
            "failed_send_ids": ", ".join(self.failed_send_ids[:50]),
            "expired_send_ids": ", ".join(self.expired_send_ids[:50]),
            "in_doubt_send_ids": ", ".join(self.in_doubt_send_ids[:50]),
            "problems": "; ".join(self.problems),
        }
