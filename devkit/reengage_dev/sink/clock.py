"""Provider time that runs faster than the wall clock, shared by a sink and a sender.

SendGrid's rules are in hours and minutes (a 72-hour horizon, cancels until 10 minutes
before send_at, a cancelled batch holding its place until its send time), so a test or
benchmark that must see them play out speeds time up instead of shrinking the rules:
`ScaledClock(origin, speed)` reads `origin + (now - origin) * speed`. Give the same
origin and speed to the sink (`--clock-origin`, `--clock-speed`) and to the sender
(its `clock`, and `sleep` so that its waits are in provider seconds too). Network
timeouts stay in wall-clock seconds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass(frozen=True)
class ScaledClock:
    origin: float
    speed: float = 1.0

    def __post_init__(self) -> None:
        if self.speed <= 0:
            raise ValueError("speed must be positive")

    def __call__(self) -> float:
        return self.origin + (time.time() - self.origin) * self.speed

    def sleep(self, seconds: float) -> None:
        """Sleep `seconds` of provider time."""
        time.sleep(max(0.0, seconds) / self.speed)
