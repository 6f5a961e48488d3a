"""A storm of random faults for the SendGrid sink's benchmarks and soak tests (`POST /__storm`).

`FaultStorm` keeps queueing random faults of every kind `Fault` knows (reengage_dev/provider_sink/faults.py),
every 0.5-2 s, on the mail send and, one in ten, on the cancel endpoint.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from typing import Any

from reengage_dev.provider_sink.faults import Fault, FaultInjector

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
