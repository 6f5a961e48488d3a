"""The demo's clock: each simulated day runs at that day's date, and time still passes."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime

import dagster as dg

from reengage_dev.demo.loop import clock_at

DAY = date(2026, 3, 2)


def test_a_step_that_dagster_retries_finishes_under_the_demo_clock():
    # Guards the demo hanging for ever: the clock stood still at 00:05, so Dagster's wait before
    # a retry (a deadline read from that clock) never came and a failing day never ended.
    attempts = []

    @dg.op(retry_policy=dg.RetryPolicy(max_retries=1, delay=0.2))
    def flaky() -> None:
        attempts.append(datetime.now(UTC))
        if len(attempts) == 1:
            raise RuntimeError("fails once")

    @dg.job
    def one_step():
        flaky()

    outcome = {}

    def run() -> None:
        with clock_at(DAY):
            outcome["success"] = one_step.execute_in_process(raise_on_error=False).success

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout=30)
    assert not worker.is_alive(), "the retried step never ran again under the demo clock"
    assert outcome["success"] and len(attempts) == 2
    assert attempts[0].date() == DAY and attempts[0].hour == 0 and attempts[0].minute == 5
