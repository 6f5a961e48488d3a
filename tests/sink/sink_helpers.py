"""Request bodies for the sink tests (a module, not conftest, so tests can import it)."""

from __future__ import annotations

import time
from typing import Any


def mail_body(n: int = 1, **overrides: Any) -> dict[str, Any]:
    """A valid Mail Send body with n personalizations, as the pipeline builds them."""
    body: dict[str, Any] = {
        "from": {"email": "news@shop.example", "name": "Shop"},
        "subject": "We miss you",
        "content": [{"type": "text/html", "value": "<p>Come back</p>"}],
        "personalizations": [
            {
                "to": [{"email": f"user{i}@mail.example"}],
                "custom_args": {
                    "send_id": f"s{i}",
                    "customer_id": f"c{i}",
                    "campaign_id": "winback",
                    "variant": "A",
                    "run_date": "2024-05-01",
                },
            }
            for i in range(n)
        ],
        "categories": ["winback"],
    }
    body.update(overrides)
    return body


def in_an_hour() -> int:
    return int(time.time()) + 3600


class MovableClock:
    """Provider time a test moves by hand: `clock.advance(3600)` is an hour later at the sink."""

    def __init__(self, now: float | None = None) -> None:
        self.now = time.time() if now is None else now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
