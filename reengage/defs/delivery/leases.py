"""Which sender holds an in-flight row, and whether it is still alive: recovery without waiting.

Every delivery registers itself in the ledger (`senders`: host, pid and the process's
start time, the Dagster run id) and claims rows under its id. A later run recovers a
row at once when its sender is gone: it finished, or it ran on this machine and its
process no longer exists (a SIGKILL, an OOM kill, a killed run). A sender on another
machine is gone when its heartbeat, written every `lease_seconds / 4`, is older than
`lease_seconds`. Dagster runs one delivering run at a time (the `sendgrid_delivery`
pool), so in practice the previous run's sender is always gone when a new run starts.

A sender taken for gone while it still runs (a process frozen longer than its lease)
is harmless: its rows are only requeued after their batch is confirmed cancelled, and
every later write of the old sender is guarded by the batch id it no longer owns.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from types import TracebackType

from reengage.defs.delivery.ledger import SenderRow, SendLedger
from reengage.processes import process_exists

logger = logging.getLogger(__name__)

DEFAULT_LEASE_SECONDS = 60.0


def process_started(pid: int) -> str | None:
    """When process `pid` started (clock ticks since boot, from /proc), or None if unknown or gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def is_alive(sender: SenderRow, now: float, lease_seconds: float) -> bool:
    """Whether the sender may still be working; see the module docstring."""
    if sender.finished_at is not None:
        return False
    if sender.host == socket.gethostname():
        if sender.pid_started is not None and os.path.exists("/proc/self/stat"):
            return process_started(sender.pid) == sender.pid_started
        return process_exists(sender.pid)
    return now - sender.heartbeat_at <= lease_seconds


def live_senders(ledger: SendLedger, lease_seconds: float) -> set[str]:
    """Ids of the senders that may still be working (heartbeats are compared in the ledger's time)."""
    now = ledger.clock()
    return {s.sender_id for s in ledger.senders() if is_alive(s, now, lease_seconds)}


class SenderLease:
    """Registers this delivery as a sender for its lifetime, with a heartbeat thread.

    Use as a context manager; `sender_id` is what claims record. Leaving the block (also
    by an exception) marks the sender finished, so its leftovers are recoverable at once.
    """

    def __init__(
        self,
        ledger: SendLedger,
        *,
        run_id: str | None = None,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
    ) -> None:
        self.ledger = ledger
        self.run_id = run_id
        self.lease_seconds = lease_seconds
        self.sender_id = uuid.uuid4().hex
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="sender-heartbeat", daemon=True)

    def __enter__(self) -> SenderLease:
        pid = os.getpid()
        self.ledger.register_sender(
            self.sender_id,
            host=socket.gethostname(),
            pid=pid,
            pid_started=process_started(pid),
            run_id=self.run_id,
        )
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.ledger.finish_sender(self.sender_id)

    def _beat(self) -> None:
        while not self._stop.wait(self.lease_seconds / 4):
            try:
                self.ledger.heartbeat(self.sender_id)
            except Exception as exc:  # a busy ledger must not kill the heartbeat; the next beat retries
                logger.warning("sender heartbeat failed: %s", type(exc).__name__)
