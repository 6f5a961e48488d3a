"""Faults the sink injects on command, so tests can prove the sender survives them.

A fault is a small JSON-able rule consumed by the next matching requests:

    {"status": 429, "count": 3, "retry_after": 1}       rate limited (Retry-After, X-RateLimit-*)
    {"status": 500, "count": 1}                          any error status with SendGrid's error JSON
    {"mode": "timeout", "delay": 5}                      answer late (after storing, by default)
    {"mode": "drop", "when": "before"|"after"}           close the socket without answering,
                                                         before or after storing the request

Every rule has `count` (default 1) and `path` (default "/v3/mail/send"; matched as a
prefix, POST only unless `method` is given). Rules are consumed in the order added.

`FaultStorm` keeps queueing random faults of every kind above, every 0.5-2 s, for
benchmarks and soak tests (`POST /__storm` on a running sink).
"""

from __future__ import annotations

import random
import threading
from collections import Counter
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


SCHEDULED_SENDS = "/v3/user/scheduled_sends"


class FaultStorm:
    """Queues one random fault every `every` seconds (uniform in the range), while it runs.

    At most one storm fault waits per path at a time: a sender that slows down (waiting out
    a rate limit, or for a cancel place) meets the same faults per second, not a backlog.
    The mix, by weight: 429 (a quarter of them six in a row) with Retry-After, 500, 502
    and 503, timeouts that do or do not store the request, connections dropped before
    and after storing; one in ten goes to the cancel endpoint instead of the mail send.
    `timeout_delay` must exceed the client's timeout, or a "timeout" is only a slow answer.
    """

    def __init__(
        self,
        faults: FaultInjector,
        *,
        every: tuple[float, float] | list[float] = (0.5, 2.0),
        retry_after: tuple[int, int] | list[int] = (1, 5),
        timeout_delay: float = 3.0,
        seed: int | None = None,
    ) -> None:
        low, high = (float(x) for x in every)
        if not 0 < low <= high:
            raise ValueError("'every' must be two positive seconds, low <= high")
        self.every = (low, high)
        self.retry_after = (int(retry_after[0]), int(retry_after[1]))
        self.timeout_delay = float(timeout_delay)
        self._faults = faults
        self._rng = random.Random(seed)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sink-fault-storm", daemon=True)
        self._injected: Counter[str] = Counter()
        self._waiting: dict[str, Fault] = {}  # the storm's fault still pending, per path

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def stats(self) -> dict[str, Any]:
        return {"running": self.running, "injected": dict(sorted(self._injected.items()))}

    def _run(self) -> None:
        while not self._stop.wait(self._rng.uniform(*self.every)):
            name, spec = self.random_fault()
            fault = Fault.from_dict(spec)
            waiting = self._waiting.get(fault.path)
            if waiting is not None and self._faults.holds(waiting):
                continue
            self._waiting[fault.path] = fault
            self._faults.add(fault)
            self._injected[name] += 1

    def random_fault(self) -> tuple[str, dict[str, Any]]:
        """(kind, fault spec): one draw from the storm's mix."""
        rng = self._rng
        retry_after = rng.randint(*self.retry_after)
        kinds: list[tuple[str, dict[str, Any], int]] = [
            ("429", {"status": 429, "retry_after": retry_after}, 3),
            ("429x6", {"status": 429, "retry_after": retry_after, "count": 6}, 1),
            ("500", {"status": 500}, 2),
            ("502", {"status": 502, "message": "bad gateway"}, 2),
            ("503", {"status": 503, "message": "service unavailable"}, 2),
            ("timeout stored", {"mode": "timeout", "delay": self.timeout_delay}, 2),
            ("timeout lost", {"mode": "timeout", "delay": self.timeout_delay, "store": False}, 1),
            ("drop before", {"mode": "drop", "when": "before"}, 2),
            ("drop after", {"mode": "drop", "when": "after"}, 2),
        ]
        name, spec, _ = rng.choices(kinds, weights=[w for *_, w in kinds])[0]
        if rng.random() < 0.1:
            name, spec = f"cancel {name}", {**spec, "path": SCHEDULED_SENDS}
        return name, spec
