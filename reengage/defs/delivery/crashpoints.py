"""Deterministic crash points for the fault-injection suite: `crashpoint("after_post_ok")`.

The sender and the ledger call `crashpoint(name)` at every step where a crash would
leave a different state behind. Nothing is armed unless test code calls `arm` in the
process (the crash suite's sender process does, tests/delivery/crash_driver.py): no
setting or environment variable arms a point, so in production a call costs one
comparison with None and does nothing.

    arm("after_post_ok")                   SIGKILL on the first pass through that point
    arm("between_batches", nth=2)          SIGKILL on the second pass
    arm("during_post", delay=0.3)          on the first pass, SIGKILL 0.3 s later from a
                                           timer thread (to die inside a blocking call)

SIGKILL, not an exception: no `finally`, no rollback, no flush runs, exactly as when
the machine loses power or the OOM killer strikes.
"""

from __future__ import annotations

import os
import signal
import threading
from typing import NamedTuple


class _Armed(NamedTuple):
    name: str
    nth: int
    delay: float | None


_armed: _Armed | None = None
_hits = 0


def arm(name: str, nth: int = 1, delay: float | None = None) -> None:
    """Make the `nth` pass through `name` kill this process (after `delay` seconds, if given)."""
    global _armed, _hits
    _armed, _hits = _Armed(name, nth, delay), 0


def _kill() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def crashpoint(name: str) -> None:
    """Die here (SIGKILL) if this point is armed and this is the armed pass."""
    if _armed is None or _armed.name != name:
        return
    global _hits
    _hits += 1
    if _hits != _armed.nth:
        return
    if _armed.delay is None:
        _kill()
    timer = threading.Timer(_armed.delay, _kill)
    timer.daemon = True
    timer.start()
