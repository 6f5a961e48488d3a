"""The sender against a live sink, over real HTTP with the official client: exactly once, or said why not.

Each test ends by comparing the ledger with the sink's store, the provider's own
record of what it accepted.
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from delivery_helpers import (
    API_KEY,
    FAST,
    LOST_UNCANCELLED,
    OPTIONS,
    RUN_DATE,
    SHORT_TIMEOUT,
    TIMEOUT_FAULT,
    SleepRecorder,
    deliver_in_process,
    make_messages,
)
from sendgrid import SendGridAPIClient

from reengage.defs.delivery.ledger import SendLedger
from reengage.defs.delivery.outcomes import rate_limit_wait
from reengage.defs.delivery.payloads import OutboundMessage, build_mail
from reengage.defs.delivery.sender import DeliveryReport, RetryPolicy, deliver, make_client, redact
from reengage_dev.sink import SinkHandle, SinkStore, start_sink


def run(
    ledger: SendLedger, messages: list[OutboundMessage], client: SendGridAPIClient, **kwargs
) -> DeliveryReport:
    kwargs.setdefault("policy", FAST)
    kwargs.setdefault("sleep", SleepRecorder())
    return deliver(ledger, messages, client, options=OPTIONS, **kwargs)


def wait_for_late_requests(store: SinkStore, expected_rows: int, timeout: float = 5.0) -> None:
    """A timeout fault answers (and stores) after the client gave up; let it land."""
    deadline = time.time() + timeout
    while sum(store.counts_by_status().values()) < expected_rows and time.time() < deadline:
        time.sleep(0.05)


def assert_exactly_once(store: SinkStore, messages: list[OutboundMessage]) -> None:
    assert store.count_by_send_id() == {m.send_id: 1 for m in messages}


def test_everything_planned_is_accepted_exactly_once(
    sink: SinkHandle, ledger: SendLedger, client: SendGridAPIClient
) -> None:
    messages = make_messages(2100)
    report = run(ledger, messages, client)
    assert (report.accepted, report.failed, report.pending, report.in_doubt) == (2100, 0, 0, 0)
    assert report.sent_this_run == 2100 and report.requests == 3 and report.complete
    assert_exactly_once(sink.store, messages)
    assert sink.store.request_count() == 3
    stored = sink.store.messages()
    assert all(m.send_at is not None and m.send_at >= time.time() + 1700 for m in stored), "min lead applied"
    assert {r.state for r in ledger.rows(RUN_DATE)} == {"accepted"}


def test_429_waits_for_retry_after(sink: SinkHandle, ledger: SendLedger, client: SendGridAPIClient) -> None:
    sleeper = SleepRecorder()
    sink.inject({"status": 429, "count": 2, "retry_after": 3})
    messages = make_messages(10)
    report = run(ledger, messages, client, sleep=sleeper)
    assert report.accepted == 10 and report.retries == 2
    assert len(sleeper.waits) == 2 and all(3 <= w <= 3 + FAST.jitter + 1 for w in sleeper.waits)
    assert_exactly_once(sink.store, messages)


def test_rate_limit_reset_header_alone_is_honoured() -> None:
    assert rate_limit_wait({"X-RateLimit-Reset": "1012"}, now=1000.0) == 12
    assert rate_limit_wait({"Retry-After": "5", "X-RateLimit-Reset": "1002"}, now=1000.0) == 5


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 500, "count": 2},
        {"status": 503},
        {"status": 502},
        TIMEOUT_FAULT,
        {"mode": "drop", "when": "before"},
        {"mode": "drop", "when": "after"},
    ],
    ids=["500", "503", "502", "timeout", "drop-before", "drop-after"],
)
def test_transient_faults_are_retried_exactly_once(
    sink: SinkHandle, ledger: SendLedger, client: SendGridAPIClient, fault: dict
) -> None:
    sink.inject(fault)
    messages = make_messages(30)
    report = run(ledger, messages, client, batch_size=10, policy=SHORT_TIMEOUT)
    assert (report.accepted, report.failed, report.in_doubt, report.pending) == (30, 0, 0, 0)
    assert report.retries >= 1
    late_copies = 10 if fault in (TIMEOUT_FAULT, {"mode": "drop", "when": "after"}) else 0
    wait_for_late_requests(sink.store, 30 + late_copies)
    assert_exactly_once(sink.store, messages)
    assert set(sink.store.counts_by_status()) <= {"accepted", "cancelled"}


def test_a_storm_of_faults_still_ends_exactly_once(
    sink: SinkHandle, ledger: SendLedger, client: SendGridAPIClient
) -> None:
    sink.inject(
        {"status": 429, "retry_after": 0},
        {"mode": "drop", "when": "after"},
        {"status": 500},
        TIMEOUT_FAULT,
        {"mode": "drop", "when": "before"},
    )
    messages = make_messages(25)
    report = run(ledger, messages, client, batch_size=5, policy=SHORT_TIMEOUT)
    assert report.accepted == 25 and report.complete
    wait_for_late_requests(sink.store, 35)
    assert_exactly_once(sink.store, messages)


def test_permanent_400_fails_with_reason_and_the_rest_still_go(
    sink: SinkHandle, ledger: SendLedger, client: SendGridAPIClient
) -> None:
    sink.inject({"status": 400, "message": "The template_id is not a valid template."})
    messages = make_messages(30)
    report = run(ledger, messages, client, batch_size=10)
    assert (report.accepted, report.failed) == (20, 10)
    failed = ledger.rows(RUN_DATE, state="failed")
    assert sorted(report.failed_send_ids) == sorted(r.send_id for r in failed)
    assert {r.last_error for r in failed} == {"HTTP 400: The template_id is not a valid template."}
    assert set(sink.store.count_by_send_id()) == {m.send_id for m in messages[10:]}


def test_one_bad_address_fails_alone(sink: SinkHandle, ledger: SendLedger, client: SendGridAPIClient) -> None:
    messages = make_messages(5, email=lambda i: "broken-address" if i == 2 else f"user{i}@mail.example")
    report = run(ledger, messages, client)
    assert (report.accepted, report.failed) == (4, 1)
    (failed,) = ledger.rows(RUN_DATE, state="failed")
    assert failed.send_id == messages[2].send_id
    assert failed.last_error == "HTTP 400: personalizations.2.to.0.email: Does not contain a valid address."
    assert set(sink.store.count_by_send_id()) == {m.send_id for i, m in enumerate(messages) if i != 2}


def test_server_errors_are_retried_until_they_stop_and_never_fail_a_message(
    sink: SinkHandle, ledger: SendLedger, client: SendGridAPIClient
) -> None:
    # Guards "failed" meaning the provider's permanent answer: retries that ran out used to
    # fail the request's rows with "gave up after 3 attempt(s): HTTP 500".
    sink.inject({"status": 500, "count": 3}, {"status": 503, "count": 3})
    messages = make_messages(20)
    policy = RetryPolicy(max_retries=2, timeout_seconds=1, base_delay=0.01, max_delay=0.01, jitter=0)
    report = run(ledger, messages, client, batch_size=10, policy=policy)
    assert (report.accepted, report.failed, report.retries) == (20, 0, 6)
    assert_exactly_once(sink.store, messages)


def test_without_lead_time_an_ambiguous_send_is_expired_with_the_reason_not_resent(
    sink: SinkHandle, ledger: SendLedger, client: SendGridAPIClient
) -> None:
    sink.inject({"mode": "drop", "when": "after"})
    messages = make_messages(10)
    report = run(ledger, messages, client, batch_size=5, min_lead_seconds=0)
    assert (report.accepted, report.expired, report.in_doubt, report.pending) == (5, 5, 0, 0)
    assert report.complete
    assert sorted(report.expired_send_ids) == sorted(m.send_id for m in messages[:5])
    reasons = {r.last_error for r in ledger.rows(RUN_DATE, state="expired")}
    assert len(reasons) == 1 and "the provider may have it, not resent" in reasons.pop()
    assert_exactly_once(sink.store, messages), "stored once by the provider, and never resent"
    again = run(ledger, messages, client, min_lead_seconds=0)
    assert again.requests == 0 and again.expired == 5


def test_bad_credentials_stop_the_run_and_lose_nothing(
    sink: SinkHandle, ledger: SendLedger, client: SendGridAPIClient
) -> None:
    sink.inject({"status": 401, "message": "The provided authorization grant is invalid"})
    messages = make_messages(20)
    report = run(ledger, messages, client, batch_size=10)
    assert report.accepted == 0 and report.pending == 20 and report.problems
    assert report.requests == 1, "no point sending more with a refused key"
    assert run(ledger, messages, client, batch_size=10).accepted == 20
    assert_exactly_once(sink.store, messages)


def test_delivering_twice_sends_nothing_more(
    sink: SinkHandle, ledger: SendLedger, client: SendGridAPIClient
) -> None:
    messages = make_messages(50)
    first = run(ledger, messages, client)
    second = run(ledger, messages + messages[:5], client)
    assert first.sent_this_run == 50 and second.sent_this_run == 0 and second.requests == 0
    assert second.accepted == 50
    assert_exactly_once(sink.store, messages)


def test_a_streamed_day_is_sent_while_it_is_still_being_read(
    sink: SinkHandle, ledger: SendLedger, client: SendGridAPIClient
) -> None:
    """Memory stays flat on a big day: requests go out before the input is exhausted."""
    messages = make_messages(50)
    stored_before_last: list[int] = []

    def stream() -> Iterator[OutboundMessage]:
        for i, message in enumerate(messages):
            if i == len(messages) - 1:
                stored_before_last.append(sink.store.request_count())
            yield message

    report = run(ledger, stream(), client, batch_size=10, plan_chunk=10)
    assert (report.accepted, report.requests, report.pending) == (50, 5, 0)
    assert stored_before_last == [4], "four full requests went out before the last chunk was read"
    assert_exactly_once(sink.store, messages)


def test_an_abort_mid_stream_still_plans_and_reports_the_whole_day(
    sink: SinkHandle, ledger: SendLedger, client: SendGridAPIClient
) -> None:
    sink.inject({"status": 401, "message": "The provided authorization grant is invalid"})
    messages = make_messages(40)
    report = run(ledger, iter(messages), client, batch_size=10, plan_chunk=10)
    assert (report.requests, report.accepted, report.pending) == (1, 0, 40) and report.problems
    assert ledger.counts(RUN_DATE)["planned"] == 40, "unsent, but planned and counted for the next run"
    assert run(ledger, iter(messages), client, batch_size=10, plan_chunk=10).accepted == 40
    assert_exactly_once(sink.store, messages)


def test_a_message_repeated_later_in_the_stream_is_sent_once(
    sink: SinkHandle, ledger: SendLedger, client: SendGridAPIClient
) -> None:
    messages = make_messages(3)
    # same customer, campaign and day (so the same send id) under another address: it can
    # join the same request, and only the claim (one row, once) keeps it to one personalization
    again = dataclasses.replace(messages[0], email="other@mail.example")
    report = run(ledger, iter([*messages, again]), client, plan_chunk=1)
    assert (report.accepted, report.requests) == (3, 1)
    assert_exactly_once(sink.store, messages)
    assert [m.email for m in sink.store.messages()].count("other@mail.example") == 0


def test_a_run_date_first_seen_mid_stream_is_recovered_before_its_messages_go(
    sink: SinkHandle, ledger: SendLedger, client: SendGridAPIClient
) -> None:
    today = make_messages(10)
    tomorrow = make_messages(8, run_date="2024-05-02")
    stranded = _crash_mid_request(ledger, client, tomorrow, int(time.time()) + 3600, True)
    report = run(ledger, iter(today + tomorrow), client, plan_chunk=10, stale_after_seconds=0)
    assert report.run_dates == [RUN_DATE, "2024-05-02"]
    assert (report.recovered, report.accepted, report.in_doubt, report.pending) == (8, 18, 0, 0)
    assert_exactly_once(sink.store, today + tomorrow)
    assert all(m.status == "cancelled" for m in sink.store.messages() if m.batch_id == stranded)


def test_concurrent_requests_while_streaming_send_each_message_once(
    sink: SinkHandle, ledger: SendLedger, client: SendGridAPIClient
) -> None:
    messages = make_messages(230)
    report = run(ledger, iter(messages), client, batch_size=20, plan_chunk=25, concurrency=4)
    assert (report.accepted, report.requests, report.pending) == (230, 12, 0)
    assert_exactly_once(sink.store, messages)


def test_held_and_far_future_messages_are_not_sent(
    sink: SinkHandle, ledger: SendLedger, client: SendGridAPIClient
) -> None:
    messages = make_messages(4)
    ledger.plan([{"customer_id": "held-1", "campaign_id": "winback", "run_date": RUN_DATE, "state": "held"}])
    later = make_messages(1, campaign_id="later", send_at=int(time.time()) + 80 * 3600)
    report = run(ledger, messages + later, client)
    assert (report.accepted, report.held, report.deferred, report.pending) == (4, 1, 1, 1)
    assert_exactly_once(sink.store, messages)


def test_two_threads_delivering_the_same_run_send_each_message_once(
    sink: SinkHandle, ledger: SendLedger
) -> None:
    messages = make_messages(300)
    reports: list[DeliveryReport] = []
    barrier = threading.Barrier(2)

    def worker() -> None:
        client = make_client(API_KEY, sink.url)
        barrier.wait()
        reports.append(run(ledger, messages, client, batch_size=25))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(reports) == 2
    assert sum(r.sent_this_run for r in reports) == 300
    assert_exactly_once(sink.store, messages)
    assert ledger.counts(RUN_DATE)["accepted"] == 300


def test_two_processes_delivering_the_same_run_send_each_message_once(
    sink: SinkHandle, ledger: SendLedger
) -> None:
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=deliver_in_process, args=(str(ledger.path), sink.url, 100)) for _ in range(2)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    assert_exactly_once(sink.store, make_messages(100))


def _crash_mid_request(
    ledger: SendLedger, client: SendGridAPIClient, messages: list[OutboundMessage], send_at: int, post: bool
) -> str:
    """What a sender killed right after its POST (or right before it) leaves behind."""
    ledger.plan(messages)
    batch_id = client.client.mail.batch.post().to_dict["batch_id"]
    ids = [m.send_id for m in messages]
    ledger.claim(ids, batch_id, send_at=dict.fromkeys(ids, send_at))
    if post:
        body = build_mail(messages, OPTIONS, batch_id=batch_id, send_at=dict.fromkeys(ids, send_at))
        assert client.client.mail.send.post(request_body=body).status_code == 202
    return batch_id


@pytest.mark.parametrize("posted", [True, False], ids=["after-post", "before-post"])
def test_crash_recovery_cancels_and_resends(
    sink: SinkHandle, ledger: SendLedger, client: SendGridAPIClient, posted: bool
) -> None:
    messages = make_messages(8)
    batch_id = _crash_mid_request(ledger, client, messages, int(time.time()) + 3600, posted)
    report = run(ledger, messages, client, stale_after_seconds=0)
    assert (report.recovered, report.accepted, report.in_doubt) == (8, 8, 0)
    assert_exactly_once(sink.store, messages)
    assert all(m.status == "cancelled" for m in sink.store.messages() if m.batch_id == batch_id)
    assert all(r.batch_id != batch_id for r in ledger.rows(RUN_DATE))


def test_crash_recovery_too_late_to_cancel_expires_them_saying_the_provider_may_have_them(
    sink: SinkHandle, ledger: SendLedger, client: SendGridAPIClient
) -> None:
    messages = make_messages(8)
    _crash_mid_request(ledger, client, messages, int(time.time()) + 120, True)
    report = run(ledger, messages, client, stale_after_seconds=0)
    assert (report.recovered, report.accepted, report.expired, report.in_doubt) == (0, 0, 8, 0)
    assert report.requests == 0
    assert all("could only be cancelled until" in (r.last_error or "") for r in ledger.rows(RUN_DATE))
    assert all("the provider may have it" in (r.last_error or "") for r in ledger.rows(RUN_DATE))
    assert_exactly_once(sink.store, messages)


def test_fresh_in_flight_rows_of_a_live_sender_are_left_alone(
    sink: SinkHandle, ledger: SendLedger, client: SendGridAPIClient
) -> None:
    messages = make_messages(4)
    _crash_mid_request(ledger, client, messages, int(time.time()) + 3600, False)
    report = run(ledger, messages, client)  # default stale_after_seconds: these rows are "live"
    assert (report.recovered, report.pending, report.requests) == (0, 4, 0)


def test_logs_and_reports_never_show_addresses_or_keys(
    sink: SinkHandle, ledger: SendLedger, client: SendGridAPIClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sink.inject({"status": 429, "retry_after": 0}, {"mode": "drop", "when": "after"}, {"status": 500})
    messages = make_messages(12, email=lambda i: "broken-address" if i == 3 else f"user{i}@mail.example")
    report = run(ledger, messages, client, batch_size=6)
    assert report.accepted == 11 and report.failed == 1
    assert caplog.records, "the run should log something"
    text = caplog.text + repr(report) + repr(report.as_metadata()) + repr(ledger.rows(RUN_DATE))
    assert "@mail.example" not in text and "broken-address" not in text
    assert API_KEY not in text and "Bearer" not in text
    assert "Name3" not in text and "d-winback" not in caplog.text
    assert "@" not in " ".join(r.last_error or "" for r in ledger.rows(RUN_DATE))


def test_redact_strips_addresses() -> None:
    assert redact("We found the first duplicate instance of [ann@x.example] in personalizations.1.to") == (
        "We found the first duplicate instance of [<address>] in personalizations.1.to"
    )


def test_unreachable_provider_stops_the_run_and_loses_nothing(
    tmp_path: Path, ledger: SendLedger, sink: SinkHandle
) -> None:
    gone = start_sink(tmp_path / "gone.sqlite")
    gone.stop()  # nothing listens on that port any more: connection refused
    messages = make_messages(20)
    report = run(ledger, messages, make_client(API_KEY, gone.url), batch_size=10)
    assert (report.accepted, report.pending, report.in_doubt) == (0, 20, 0) and report.problems
    report = run(ledger, messages, make_client(API_KEY, sink.url), batch_size=10)
    assert report.accepted == 20
    assert_exactly_once(sink.store, messages)


def test_wrong_host_path_stops_the_run(sink: SinkHandle, ledger: SendLedger) -> None:
    report = run(ledger, make_messages(5), make_client(API_KEY, sink.url + "/wrong-prefix"))
    assert report.accepted == 0 and report.pending == 5 and report.failed == 0
    assert "404" in report.problems[0]


def test_an_unconfirmed_cancel_leaves_the_rows_in_doubt_and_the_next_run_sends_them(
    sink: SinkHandle, ledger: SendLedger, client: SendGridAPIClient
) -> None:
    # Guards the "never reached the sink, never sent" finding: the request's connection drops
    # before the provider stores it and the cancel that would settle it is refused (the key
    # may not cancel): the rows stay in doubt, reported, and the next run, started at once,
    # cancels the batch and sends them. It used to wait five minutes before touching them.
    sink.inject(*LOST_UNCANCELLED)
    messages = make_messages(6)
    report = run(ledger, messages, client)
    assert (report.accepted, report.in_doubt, report.pending) == (0, 6, 0)
    assert report.problems and not report.complete
    assert sink.store.count_by_send_id() == {}, "the request never reached the provider"
    report = run(ledger, messages, client)
    assert (report.recovered, report.accepted, report.in_doubt) == (6, 6, 0)
    assert_exactly_once(sink.store, messages)
