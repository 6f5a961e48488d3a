"""Send a run's requests one after another, or keep up to `concurrency` of them in flight.

Each request has its own batch id and claim, so requests are independent. With
concurrency > 1 the caller's thread goes on planning and grouping while worker threads
send, and `send` blocks while `concurrency` requests are outstanding, so the day is
never queued in memory. An abort (bad key, nothing listening) stops requests not yet
started; `abort` holds it, `stopped` says so.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from reengage.defs.delivery.crashpoints import crashpoint
from reengage.defs.delivery.payloads import OutboundMessage
from reengage.defs.delivery.request import AbortRun


class RequestPool:
    """Runs `send_group` for each group, on this thread or on `concurrency` worker threads."""

    def __init__(self, send_group: Callable[[list[OutboundMessage]], None], concurrency: int) -> None:
        self.send_group = send_group
        self.abort: AbortRun | None = None
        self._errors: list[BaseException] = []
        self._stop = threading.Event()
        self._pool: ThreadPoolExecutor | None = None
        if concurrency > 1:
            self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="sendgrid-send")
            self._slots = threading.BoundedSemaphore(concurrency)

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
            self.send_group(group)
        except AbortRun as exc:
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
