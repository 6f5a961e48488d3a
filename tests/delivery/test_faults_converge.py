"""Delivery converges under faults: every message ends accepted, failed with the provider's
reason, or expired with a reason, within SendGrid's limits, against a live sink over HTTP.

Time is simulated where SendGrid's rules take hours (a cancelled batch holds its place
until its send time, 30 minutes ahead; a send window of hours): the sink, the ledger and
the sender share one clock that moves when the sender waits.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from delivery_helpers import (
    API_KEY,
    LOST_UNCANCELLED,
    OPTIONS,
    RUN_DATE,
    SCHEDULED_SENDS,
    SimulatedTime,
    SleepRecorder,
    make_messages,
)
from sendgrid import SendGridAPIClient

from reengage.defs.delivery.ledger import SendLedger
from reengage.defs.delivery.sender import DeliveryReport, RetryPolicy, deliver, make_client
from reengage_dev.sink import SinkHandle, start_sink

# Production's retry policy with tiny backoff delays (rate-limit waits follow the headers).
QUICK = RetryPolicy(base_delay=0.01, max_delay=0.05, jitter=0.01, timeout_seconds=10)


@pytest.fixture
def sim() -> SimulatedTime:
    return SimulatedTime()


@pytest.fixture
def sim_sink(tmp_path: Path, sim: SimulatedTime) -> Iterator[SinkHandle]:
    with start_sink(tmp_path / "sim_sink.sqlite", clock=sim.clock) as handle:
        yield handle


@pytest.fixture
def sim_ledger(tmp_path: Path, sim: SimulatedTime) -> SendLedger:
    return SendLedger(tmp_path / "sim_ledger.sqlite", clock=sim.clock)


def run_sim(ledger: SendLedger, sink: SinkHandle, sim: SimulatedTime, n: int, **kwargs) -> DeliveryReport:
    kwargs.setdefault("policy", QUICK)
    kwargs.setdefault("batch_size", 1)
    return deliver(
        ledger,
        make_messages(n),
        make_client(API_KEY, sink.url),
        options=OPTIONS,
        clock=sim.clock,
        sleep=sim.sleep,
        **kwargs,
    )


def test_six_rate_limits_in_a_row_do_not_fail_a_message(
    sink: SinkHandle, ledger: SendLedger, client: SendGridAPIClient
) -> None:
    # Guards the finding "2,000 failed only because six 429s in a row were treated as
    # permanent": production's policy (max_retries=5) gave up after the sixth 429.
    sleeper = SleepRecorder()
    sink.inject({"status": 429, "count": 6, "retry_after": 30})
    messages = make_messages(10)
    policy = RetryPolicy(timeout_seconds=10, jitter=0.01)  # production's retry counts
    report = deliver(ledger, messages, client, options=OPTIONS, policy=policy, sleep=sleeper)
    assert (report.accepted, report.failed, report.expired, report.retries) == (10, 0, 0, 6)
    assert [round(w) for w in sleeper.waits] == [30] * 6, "each wait as Retry-After says"
    assert sink.store.count_by_send_id() == {m.send_id: 1 for m in messages}


def test_a_rate_limit_that_outlasts_the_send_window_expires_the_messages_with_its_reason(
    sim_sink: SinkHandle, sim_ledger: SendLedger, sim: SimulatedTime
) -> None:
    # Guards "retrying gives up only when the window closes": the provider keeps answering
    # 429 for hours; the rows wait it out until their window (2 h here) closes, then end
    # expired with the provider's answer as the reason. They used to fail after six 429s.
    sim_sink.inject({"status": 429, "count": 1000, "retry_after": 1200})
    started = sim.now
    report = run_sim(sim_ledger, sim_sink, sim, 3, batch_size=10, max_delay_seconds=2 * 3600)
    assert (report.accepted, report.failed, report.expired) == (0, 0, 3)
    assert report.complete
    reasons = {r.last_error for r in sim_ledger.rows(RUN_DATE)}
    assert len(reasons) == 1
    reason = reasons.pop()
    assert reason.startswith("send window closed (messages may go out until ") and "HTTP 429" in reason
    assert 2 * 3600 - 1800 - 1200 <= sim.now - started <= 2 * 3600, "waited until the window closed"
    assert sim_sink.store.count_by_send_id() == {}


def test_the_sender_waits_for_a_cancel_place_and_never_asks_for_an_eleventh(
    sim_sink: SinkHandle, sim_ledger: SendLedger, sim: SimulatedTime
) -> None:
    # Guards the finding "cancels beyond SendGrid's limit of 10 got HTTP 400 and the rows were
    # left in doubt, never sent": 25 answers lost after the provider stored the mail need 25
    # cancels; the sender holds at most 10 at a time, waits for a place (simulated half hours)
    # and sends everything exactly once.
    sim_sink.inject({"mode": "drop", "when": "after", "count": 25})
    report = run_sim(sim_ledger, sim_sink, sim, 4)
    assert (report.accepted, report.failed, report.expired) == (4, 0, 0) and report.complete
    assert report.cancels == 25 and report.place_waits > 0
    log = sim_sink.store.status_requests()
    assert [r for r in log if r["http_status"] >= 400] == [], "the provider never refused a cancel"
    assert max(r["in_effect"] for r in log) == 10
    assert sum(1 for r in log if r["requested"] == "cancel") == 25
    assert sim_sink.store.count_by_send_id() == {m.send_id: 1 for m in make_messages(4)}
    assert sim_sink.store.counts_by_status()["cancelled"] == 25


def test_a_cancel_that_hits_faults_is_retried(
    sink: SinkHandle, ledger: SendLedger, client: SendGridAPIClient
) -> None:
    # Guards "cancel requests that hit faults are retried": a 500, a 429 and a lost answer on
    # the cancel itself still end in a confirmed cancel and the mail sent once.
    sink.inject(
        {"mode": "drop", "when": "after"},
        {"status": 500, "path": SCHEDULED_SENDS},
        {"status": 429, "retry_after": 0, "path": SCHEDULED_SENDS},
        {"mode": "drop", "when": "after", "path": SCHEDULED_SENDS},
    )
    messages = make_messages(5)
    report = deliver(ledger, messages, client, options=OPTIONS, policy=QUICK, sleep=SleepRecorder())
    assert (report.accepted, report.in_doubt, report.expired, report.cancels) == (5, 0, 0, 1)
    assert report.retries >= 4
    assert sink.store.count_by_send_id() == {m.send_id: 1 for m in messages}
    assert sink.store.counts_by_status() == {"accepted": 5, "cancelled": 5}


def test_rows_left_in_doubt_past_their_cancel_window_are_expired_by_the_next_run_with_the_reason(
    sim_sink: SinkHandle, sim_ledger: SendLedger, sim: SimulatedTime
) -> None:
    # Guards "never left silently": when the next run comes too late to cancel, the rows in
    # doubt end expired, saying the provider may have them, instead of staying in doubt.
    sim_sink.inject(*LOST_UNCANCELLED)
    first = run_sim(sim_ledger, sim_sink, sim, 3, batch_size=10)
    assert (first.in_doubt, first.accepted) == (3, 0)
    sim.now += 3600
    second = run_sim(sim_ledger, sim_sink, sim, 3, batch_size=10)
    assert (second.in_doubt, second.expired, second.accepted, second.pending) == (0, 3, 0, 0)
    for row in sim_ledger.rows(RUN_DATE):
        assert "could only be cancelled until" in row.last_error
        assert "the provider may have it, not resent" in row.last_error


def test_a_cancel_that_fails_until_its_deadline_expires_the_rows_saying_the_provider_may_have_them(
    sim_sink: SinkHandle, sim_ledger: SendLedger, sim: SimulatedTime
) -> None:
    # Guards the in-doubt rows the storm left behind: the cancel kept failing (503) until
    # SendGrid's deadline, 10 minutes before send_at, passed; the rows stayed in doubt for the
    # next run, which could only expire them. Now the run that tried settles them itself.
    sim_sink.inject({"mode": "drop", "when": "after"}, {"status": 503, "count": 100, "path": SCHEDULED_SENDS})
    slow = RetryPolicy(base_delay=60, max_delay=300, jitter=1, timeout_seconds=10)
    report = run_sim(sim_ledger, sim_sink, sim, 2, batch_size=10, policy=slow)
    assert (report.accepted, report.expired, report.in_doubt, report.pending) == (0, 2, 0, 0)
    for row in sim_ledger.rows(RUN_DATE):
        assert "was not confirmed before" in row.last_error
        assert row.last_error.endswith("the provider may have it, not resent")
    assert len(sim_sink.store.count_by_send_id()) == 2, "the provider did keep them: reported, never resent"
