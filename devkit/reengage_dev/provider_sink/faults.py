"""Faults the sink injects on command, so tests can prove the sender survives them.

A fault is a small JSON-able rule consumed by the next matching requests:

    {"status": 429, "count": 3, "retry_after": 1}       rate limited (Retry-After, X-RateLimit-*)
    {"status": 500, "count": 1}                          any error status with the provider's error JSON
    {"mode": "timeout", "delay": 5}                      answer late (after storing, by default)
    {"mode": "drop", "when": "before"|"after"}           close the socket without answering,
                                                         before or after storing the request

Every rule has `count` (default 1) and `path` (matched as a prefix, POST only unless `method`
is given). A rule sent as JSON or given to a running sink's `inject` without a path applies to
that sink's send endpoint; a `Fault` built in Python defaults to SendGrid's. Rules are consumed
in the order added. Both local sinks (SendGrid's and Twilio's) take the same rules.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any

DEFAULT_PATH = "/v3/mail/send"


@dataclass
class Fault:
    """One injected misbehaviour, applied to the next `count` matching requests."""

    status: int | None = None
    mode: str | None = None  # "timeout" or "drop"; None with a status means "answer with status"
    count: int = 1
    retry_after: int | None = None
    delay: float = 0.0
    when: str = "before"  # for drop: before or after the request is stored
    store: bool = True  # for timeout: process (store) the request once the delay is over
    message: str | None = None
    path: str = DEFAULT_PATH
    method: str = "POST"

    def __post_init__(self) -> None:
        if self.mode not in (None, "timeout", "drop"):
            raise ValueError(f"unknown fault mode {self.mode!r}; use 'timeout' or 'drop'")
        if self.mode is None and self.status is None:
            raise ValueError("a fault needs a 'status' or a 'mode'")
        if self.when not in ("before", "after"):
            raise ValueError("'when' must be 'before' or 'after'")
        if self.count < 1:
            raise ValueError("'count' must be at least 1")

    @classmethod
    def from_dict(cls, spec: dict[str, Any]) -> Fault:
        """Build from JSON; an unknown key is an error, so a typo cannot silently do nothing."""
        if not isinstance(spec, dict):
            raise ValueError("a fault is a JSON object")
        unknown = set(spec) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown fault field(s): {', '.join(sorted(unknown))}")
        return cls(**spec)

    def matches(self, method: str, path: str) -> bool:
        return method.upper() == self.method.upper() and path.startswith(self.path)


class FaultInjector:
    """A thread-safe queue of faults shared by all request handler threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, *specs: Fault | dict[str, Any]) -> None:
        """Queue faults (objects or their JSON form), e.g. `add({"status": 429, "count": 2})`."""
        faults = [s if isinstance(s, Fault) else Fault.from_dict(s) for s in specs]
        with self._lock:
            self._faults.extend(faults)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(f) for f in self._faults]

    def holds(self, fault: Fault) -> bool:
        """Whether `fault` still waits for a request."""
        with self._lock:
            return any(f is fault for f in self._faults)

    def take(self, method: str, path: str) -> Fault | None:
        """Consume one use of the first fault matching this request, if any."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.count -= 1
                    if fault.count == 0:
                        self._faults.remove(fault)
                    return fault
        return None
