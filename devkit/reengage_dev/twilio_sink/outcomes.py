"""What happens to a text once it goes out: delivered, undelivered or failed, and maybe a STOP reply.

The caller gives the rates (the demo world passes each number's truth); each draw is seeded by
`(seed, To, Body, go-out time)`, so the same messages and seed give the same outcomes in any
store, on any machine, and adding messages never changes earlier draws.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

# Carrier errors a text that did not arrive carries (Twilio's 300xx dictionary entries).
UNDELIVERED_ERRORS = (30003, 30005, 30006)  # unreachable handset, unknown number, landline
FAILED_ERRORS = (30008,)  # unknown error
SENT_AFTER_SECONDS = 1  # queued -> sent
FINAL_AFTER_SECONDS = (2, 30)  # sent -> delivered/undelivered/failed, uniform
STOP_AFTER_SECONDS = (60, 6 * 3600)  # delivered -> the recipient's STOP reply, uniform


@dataclass(frozen=True)
class Rates:
    """Shares of texts delivered, undelivered, failed (adding to 1); `stop`: delivered ones answered STOP."""

    delivered: float = 1.0
    undelivered: float = 0.0
    failed: float = 0.0
    stop: float = 0.0

    def __post_init__(self) -> None:
        shares = (self.delivered, self.undelivered, self.failed, self.stop)
        if any(not 0.0 <= s <= 1.0 for s in shares):
            raise ValueError("every rate is a share between 0 and 1")
        if abs(self.delivered + self.undelivered + self.failed - 1.0) > 1e-9:
            raise ValueError("delivered, undelivered and failed must add up to 1")


@dataclass(frozen=True)
class Outcomes:
    """Rates for every number (`default`) or per E.164 number (`by_number`), and the draws' seed."""

    default: Rates = Rates()
    by_number: Mapping[str, Rates] = field(default_factory=dict)
    seed: int = 0


class Outcome(NamedTuple):
    status: str  # delivered, undelivered or failed
    error_code: int | None
    final_after: int  # seconds after the text was sent
    stop_after: int | None  # seconds after delivery the recipient replies STOP; None: never


def draw(outcomes: Outcomes, to: str, body: str, goes_out_at: float) -> Outcome:
    """The outcome of one text (deterministic in its arguments)."""
    rates = outcomes.by_number.get(to, outcomes.default)
    rng = random.Random(f"{outcomes.seed}|{to}|{body}|{int(goes_out_at)}")
    final_after = rng.randint(*FINAL_AFTER_SECONDS)
    u = rng.random()
    stop_draw, stop_after = rng.random(), rng.randint(*STOP_AFTER_SECONDS)
    error_draw = rng.random()
    if u < rates.delivered:
        return Outcome("delivered", None, final_after, stop_after if stop_draw < rates.stop else None)
    if u < rates.delivered + rates.undelivered:
        code = UNDELIVERED_ERRORS[int(error_draw * len(UNDELIVERED_ERRORS))]
        return Outcome("undelivered", code, final_after, None)
    return Outcome("failed", FAILED_ERRORS[0], final_after, None)
