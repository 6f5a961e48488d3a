"""Whether an in-flight row's sender is gone: at once on this machine, after its lease elsewhere."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from reengage.defs.delivery.leases import is_alive, process_started
from reengage.defs.delivery.ledger import SenderRow

NOW = 1_800_000_000.0


def sender(**changes: object) -> SenderRow:
    values: dict = {
        "sender_id": "s1", "host": socket.gethostname(), "pid": os.getpid(),
        "pid_started": process_started(os.getpid()), "run_id": "run-1", "started_at": NOW - 600,
        "heartbeat_at": NOW - 600, "finished_at": None,
    }  # fmt: skip
    return SenderRow(**(values | changes))


def test_a_sender_on_this_machine_is_alive_while_its_process_runs_whatever_its_heartbeat() -> None:
    # Guards against recovering a live local sender's rows because its heartbeat thread lagged.
    assert is_alive(sender(), NOW, lease_seconds=60)


def test_a_sender_whose_process_is_gone_is_gone_at_once() -> None:
    # Guards the finding "a rerun within 5 minutes of a crash finishes green with 47 messages in
    # flight": a killed process is seen as gone immediately, not after a timeout.
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True)
    gone = int(done.stdout)
    assert not is_alive(sender(pid=gone, pid_started="12345", heartbeat_at=NOW), NOW, lease_seconds=60)


def test_a_reused_pid_is_not_taken_for_the_sender() -> None:
    assert not is_alive(sender(pid_started="1"), NOW, lease_seconds=60)


def test_a_finished_sender_is_gone() -> None:
    assert not is_alive(sender(finished_at=NOW - 1, heartbeat_at=NOW), NOW, lease_seconds=60)


def test_a_sender_on_another_machine_lives_by_its_heartbeat() -> None:
    def elsewhere(heartbeat_at: float) -> SenderRow:
        return sender(host="another-machine", pid=1, pid_started=None, heartbeat_at=heartbeat_at)

    assert is_alive(elsewhere(NOW - 30), NOW, lease_seconds=60)
    assert not is_alive(elsewhere(NOW - 61), NOW, lease_seconds=60)
