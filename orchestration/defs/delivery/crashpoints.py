"""Deterministic crash points for the fault-injection suite: `crashpoint("after_post_ok")`.

The sender and the ledger call `crashpoint(name)` at every step where a crash would
leave a different state behind. In production nothing is armed and a call costs one
comparison with None. A test arms one point through the environment of the sender
process it starts:

    REENGAGE_CRASH_AT=after_post_ok        SIGKILL on the first pass through that point
    REENGAGE_CRASH_AT=between_batches:2    SIGKILL on the second pass
    REENGAGE_CRASH_AT=during_post@0.3      on the first pass, SIGKILL 0.3 s later from a
                                           timer thread (to die inside a blocking call)

SIGKILL, not an exception: no `finally`, no rollback, no flush runs, exactly as when
the machine loses power or the OOM killer strikes.
"""

from __future__ import annotations

import os
import signal
import threading

ENV_VAR = "REENGAGE_CRASH_AT"


def _parse(spec: str | None) -> tuple[str, int, float | None] | None:
    if not spec:
        return None
    name, _, delay = spec.partition("@")
    name, _, nth = name.partition(":")
    return name.strip(), int(nth or 1), float(delay) if delay else None


_armed = _parse(os.environ.get(ENV_VAR))
_hits = 0


def _kill() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def crashpoint(name: str) -> None:
    """Die here (SIGKILL) if this point is armed and this is the armed pass."""
    if _armed is None or _armed[0] != name:
        return
    global _hits
    _hits += 1
    if _hits != _armed[1]:
        return
    if _armed[2] is None:
        _kill()
    timer = threading.Timer(_armed[2], _kill)
    timer.daemon = True
    timer.start()
