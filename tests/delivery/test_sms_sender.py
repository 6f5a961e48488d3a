"""SMS delivery through the official twilio client over HTTP to the local Twilio sink: exactly once.

The verdict is the sink's store, Twilio's own record: every text is held exactly once, live
(scheduled or gone out, never two copies for one send id), whatever the network did.
"""

from __future__ import annotations

import logging
import math
import socket
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from delivery_helpers import FAST as EMAIL_FAST
from delivery_helpers import OPTIONS, RUN_DATE
from sendgrid import SendGridAPIClient
from sms_helpers import (
    SECRET,
    SERVICE,
    TIMEOUT_FAULT,
    expected,
    live_copies,
    make_texts,
    number,
    provider_for,
    send_texts,
)

from reengage.defs.delivery.ledger import SendLedger
from reengage.defs.delivery.sender import deliver
from reengage.defs.delivery.sms_sender import SendPace, SmsMessage, claim_id
from reengage.defs.delivery.twilio_provider import make_twilio_client
from reengage_dev.twilio_sink import TwilioSinkHandle


def test_each_text_is_scheduled_once_through_the_messaging_service_with_its_send_id_in_the_callback(
    ledger: SendLedger, twilio_sink: TwilioSinkHandle
) -> None:
    # Guards the request itself: a SendAt at least the lead ahead with ScheduleType=fixed (so an
    # ambiguous answer can be settled while the text is still scheduled), the Messaging Service,
    # and the send id, campaign, variant and run date in the StatusCallback URL (where the
    # sms_events export reads them back, so a text's answers name its campaign).
    texts = make_texts(5)
    started = time.time()
    provider = provider_for(twilio_sink.url, status_callback="https://hooks.example.com/twilio?env=test")
    report = send_texts(ledger, texts, twilio_sink.url, provider=provider)
    assert (report.accepted, report.sent_this_run, report.requests) == (5, 5, 5) and report.complete
    stored = {t.to: t for t in twilio_sink.store.texts()}
    assert live_copies(twilio_sink.store) == expected(texts)
    for text in texts:
        held = stored[text.to]
        assert held.status == "scheduled" and held.messaging_service_sid == SERVICE
        assert held.send_at is not None and held.send_at >= started + 360
        url = urlsplit(held.status_callback)
        assert url.geturl().startswith("https://hooks.example.com/twilio?env=test&send_id=")
        assert dict(parse_qsl(url.query)) == {
            "env": "test",
            "send_id": text.send_id,
            "campaign_id": text.campaign_id,
            "variant": text.variant,
            "run_date": text.run_date,
        }
    assert {r.state for r in ledger.rows(RUN_DATE)} == {"accepted"}
    assert all(r.channel == "sms" and r.batch_id.startswith("sms-") for r in ledger.rows(RUN_DATE))


def test_a_text_planned_for_later_keeps_its_own_send_time(
    ledger: SendLedger, twilio_sink: TwilioSinkHandle
) -> None:
    # Guards SendAt = max(planned time, now + lead): a text planned two hours ahead goes out then.
    later = math.ceil(time.time()) + 7200
    text = SmsMessage("c1", "winback", "A", RUN_DATE, number(1), "See you soon", send_at=later)
    assert send_texts(ledger, [text], twilio_sink.url).accepted == 1
    (held,) = twilio_sink.store.texts()
    assert held.send_at == later


def test_a_text_planned_more_than_35_days_ahead_waits_for_a_later_run(
    ledger: SendLedger, twilio_sink: TwilioSinkHandle
) -> None:
    # Guards Twilio's 35-day limit: such a text is not refused by Twilio (nor failed), it stays planned.
    far = int(time.time()) + 40 * 86400
    text = SmsMessage("c1", "winback", "A", RUN_DATE, number(1), "Much later", send_at=far)
    report = send_texts(ledger, [text], twilio_sink.url)
    assert (report.deferred, report.requests, report.pending) == (1, 0, 1)
    assert twilio_sink.store.texts() == []


def test_a_rate_limit_waits_as_retry_after_says_and_sends_each_text_once(
    ledger: SendLedger, twilio_sink: TwilioSinkHandle
) -> None:
    # Guards 429: Twilio did not take the text; wait as Retry-After says, then send it (never twice).
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    twilio_sink.inject({"status": 429, "retry_after": 1, "count": 2})
    texts = make_texts(3)
    report = send_texts(ledger, texts, twilio_sink.url, provider=provider_for(twilio_sink.url, sleep=sleep))
    assert report.accepted == 3 and report.requests == 5 and report.complete
    assert sum(1 for w in waits if w >= 1.0) == 2, waits
    assert live_copies(twilio_sink.store) == expected(texts)


@pytest.mark.parametrize(
    ("fault", "requests"),
    [
        (TIMEOUT_FAULT, 3),  # Twilio stored it after the sender gave up: found, not resent
        ({"mode": "drop", "when": "after"}, 3),  # stored, the answer lost: found, not resent
        ({"mode": "drop", "when": "before"}, 4),  # lost before Twilio stored it: not found, resent once
        ({"status": 500}, 4),  # a 5xx: looked up (Twilio may have it), not found, resent once
        ({"status": 503}, 4),
    ],
    ids=["timeout after acceptance", "dropped after acceptance", "dropped before", "500", "503"],
)
def test_an_ambiguous_answer_is_settled_by_looking_the_text_up_so_it_is_held_exactly_once(
    ledger: SendLedger, twilio_sink: TwilioSinkHandle, fault: dict, requests: int
) -> None:
    # Guards exactly once through every ambiguous outcome: a blind retry after a timeout or a
    # dropped connection would leave two texts; giving up would lose one.
    twilio_sink.inject(fault)
    texts = make_texts(3)
    report = send_texts(ledger, texts, twilio_sink.url)
    assert report.accepted == 3 and report.complete, report.as_metadata()
    assert report.requests == requests
    time.sleep(0.5)  # a late request would have landed by now
    assert live_copies(twilio_sink.store) == expected(texts)
    assert len(twilio_sink.store.texts()) == 3, "no cancelled copy either: nothing was sent twice"


def test_an_opted_out_number_fails_with_21610_and_is_never_retried(
    ledger: SendLedger, twilio_sink: TwilioSinkHandle
) -> None:
    # Guards STOP replies: Twilio's 21610 is final. Retrying would hammer a number that said STOP.
    texts = make_texts(3)
    twilio_sink.store.add_opt_out(texts[1].to, time.time())
    report = send_texts(ledger, texts, twilio_sink.url)
    assert (report.accepted, report.failed, report.requests) == (2, 1, 3)
    (failed,) = ledger.rows(RUN_DATE, state="failed")
    assert failed.send_id == texts[1].send_id
    assert failed.last_error == "HTTP 400: Twilio error 21610 (the recipient replied STOP (unsubscribed))"
    again = send_texts(ledger, texts, twilio_sink.url)
    assert (again.requests, again.failed) == (0, 1), "a rerun leaves it failed, unsent"


def test_another_refusal_fails_with_twilios_code_and_never_the_number_or_body(
    ledger: SendLedger, twilio_sink: TwilioSinkHandle
) -> None:
    # Guards the reason kept in the ledger and the warehouse: Twilio's message may quote the number.
    text = make_texts(1)[0]
    twilio_sink.inject({"status": 400, "message": f"The 'To' number {text.to} is not valid: {text.body}"})
    report = send_texts(ledger, [text], twilio_sink.url)
    assert (report.failed, report.requests) == (1, 1)
    (row,) = ledger.rows(RUN_DATE)
    assert row.last_error is not None and row.last_error.startswith("HTTP 400: Twilio error")
    assert text.to not in row.last_error and text.to.lstrip("+") not in row.last_error
    assert "miss you" not in row.last_error


def test_a_text_twilio_would_certainly_refuse_fails_before_any_request(
    ledger: SendLedger, twilio_sink: TwilioSinkHandle
) -> None:
    # Guards the local checks: no request for a number that is not E.164 or a body over 1,600 characters.
    texts = [
        SmsMessage("c1", "winback", "A", RUN_DATE, "555-0100", "Hi"),
        SmsMessage("c2", "winback", "A", RUN_DATE, number(2), "x" * 1601),
    ]
    report = send_texts(ledger, texts, twilio_sink.url)
    assert (report.failed, report.requests) == (2, 0)
    assert twilio_sink.store.texts() == []


def test_a_rerun_of_the_day_sends_nothing_new(ledger: SendLedger, twilio_sink: TwilioSinkHandle) -> None:
    # Guards reruns and retries of the daily job: the ledger remembers every accepted text.
    texts = make_texts(4)
    send_texts(ledger, texts, twilio_sink.url)
    again = send_texts(ledger, texts, twilio_sink.url)
    assert (again.accepted, again.sent_this_run, again.requests) == (4, 0, 0)
    assert live_copies(twilio_sink.store) == expected(texts)


def test_a_lookup_that_cannot_end_before_the_send_at_expires_the_text_in_doubt(
    ledger: SendLedger, twilio_sink: TwilioSinkHandle
) -> None:
    # Guards the window: once a scheduled text may have gone out, a lookup for `scheduled` could miss
    # it, and resending would make two. The row expires, saying Twilio may have it; never resent.
    twilio_sink.inject({"mode": "drop", "when": "after"})
    text = make_texts(1)[0]
    report = send_texts(ledger, [text], twilio_sink.url, settle_delay_seconds=3600)
    assert (report.expired, report.requests) == (1, 1)
    (row,) = ledger.rows(RUN_DATE)
    assert "the provider may have it, not resent" in (row.last_error or "")
    assert len(twilio_sink.store.texts()) == 1


def _left_in_flight(ledger: SendLedger, text: SmsMessage, send_at: int) -> None:
    """The row as a sender killed after its request leaves it: claimed, in flight, sender gone."""
    ledger.plan_messages([text], send_by=[send_at + 6 * 3600])
    ledger.register_sender("gone", host=socket.gethostname(), pid=0, pid_started=None, run_id=None)
    ledger.finish_sender("gone")
    claim = claim_id(time.time())
    assert ledger.claim([text.send_id], claim, send_at={text.send_id: send_at}, claimed_by="gone")


def _schedule_copy(twilio_sink: TwilioSinkHandle, text: SmsMessage, send_at: int) -> None:
    client = make_twilio_client("AC" + "0" * 31 + "1", SECRET, "AC" + "0" * 31 + "1", twilio_sink.url, 5)
    client.messages.create(
        to=text.to,
        body=text.body,
        messaging_service_sid=SERVICE,
        send_at=datetime.fromtimestamp(send_at, tz=UTC),
        schedule_type="fixed",
    )


@pytest.mark.parametrize("copies", [0, 1, 2])
def test_a_text_left_in_flight_by_a_gone_sender_ends_with_exactly_one_live_copy(
    ledger: SendLedger, twilio_sink: TwilioSinkHandle, copies: int
) -> None:
    # Guards recovery after a kill between the request and its record: Twilio has none (send it),
    # one (record it accepted, send nothing), or two, as when a late request landed after a resend
    # (cancel the second: one send id never has two live texts).
    text = make_texts(1)[0]
    send_at = int(time.time()) + 900
    _left_in_flight(ledger, text, send_at)
    for _ in range(copies):
        _schedule_copy(twilio_sink, text, send_at)
    report = send_texts(ledger, [text], twilio_sink.url)
    assert report.accepted == 1 and report.complete and report.recovered == 1
    assert report.requests == (1 if copies == 0 else 0)
    assert report.cancels == max(0, copies - 1)
    assert live_copies(twilio_sink.store) == expected([text])
    assert [t.status for t in twilio_sink.store.texts()].count("canceled") == max(0, copies - 1)


def test_a_text_left_in_flight_whose_message_is_not_in_the_input_stays_in_doubt(
    ledger: SendLedger, twilio_sink: TwilioSinkHandle
) -> None:
    # Guards against guessing: without its number and body the row cannot be looked up, so it is
    # neither resent nor given up; the settled check keeps the day red until a run with the list does.
    text = make_texts(1)[0]
    _left_in_flight(ledger, text, int(time.time()) + 900)
    report = send_texts(ledger, [], twilio_sink.url)
    assert report.requests == 0 and not report.complete
    assert ledger.rows(RUN_DATE)[0].state == "in_flight"


def test_texts_are_paced_overall_and_per_number() -> None:
    # Guards the Messaging Service's throughput and the per-recipient rate: turns are handed out
    # 1/rate apart, and a second text to one number waits its interval.
    now = [1000.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(round(seconds, 6))
        now[0] += seconds

    pace = SendPace(4, 2.0, clock=lambda: now[0], sleep=sleep)
    for to in ("+15550000001", "+15550000002", "+15550000001", "+15550000003"):
        pace.wait_turn(to)
    assert waits == [0.25, 1.75, 0.25]  # the third waits for its number (2 s after the first)
    assert now[0] == pytest.approx(1002.25)


def test_no_number_body_or_secret_reaches_the_logs(
    ledger: SendLedger, twilio_sink: TwilioSinkHandle, caplog: pytest.LogCaptureFixture
) -> None:
    # Guards the privacy rule through retries, lookups and failures: logs carry send ids and codes.
    caplog.set_level(logging.DEBUG)
    texts = make_texts(3)
    twilio_sink.store.add_opt_out(texts[2].to, time.time())
    twilio_sink.inject({"status": 429, "retry_after": 0}, {"mode": "drop", "when": "after"})
    send_texts(ledger, texts, twilio_sink.url)
    logged = "\n".join(
        r.getMessage() for r in caplog.records if r.name.startswith(("reengage", "reengage", "twilio"))
    )
    assert "text" in logged
    for secret in [SECRET, *(t.to for t in texts), *(t.to.lstrip("+") for t in texts), "miss you"]:
        assert secret not in logged


def test_the_ledger_file_holds_no_number_or_body(ledger: SendLedger, twilio_sink: TwilioSinkHandle) -> None:
    # Guards erasure: the ledger outlives the list and must hold neither (only ids, states, times).
    texts = make_texts(2)
    send_texts(ledger, texts, twilio_sink.url)
    raw = Path(ledger.path).read_bytes()
    for text in texts:
        assert text.to.encode() not in raw and text.body.encode() not in raw


def test_the_email_delivery_leaves_a_text_in_flight_to_the_sms_delivery(
    ledger: SendLedger, twilio_sink: TwilioSinkHandle, client: SendGridAPIClient
) -> None:
    # Guards the shared ledger: the email sender's recovery took every gone sender's row of the day,
    # and would have asked SendGrid to cancel an SMS claim as a batch, then requeued or expired it.
    text = make_texts(1)[0]
    _left_in_flight(ledger, text, int(time.time()) + 900)
    report = deliver(ledger, [], client, options=OPTIONS, run_date=RUN_DATE, policy=EMAIL_FAST)
    assert (report.requests, report.cancels, report.recovered, report.in_doubt, report.pending) == (
        0,
        0,
        0,
        0,
        0,
    )
    assert ledger.rows(RUN_DATE)[0].state == "in_flight", "left to the SMS delivery"
    assert send_texts(ledger, [text], twilio_sink.url).accepted == 1


def test_a_refused_lookup_leaves_the_text_in_doubt_at_once_naming_the_refusal(
    ledger: SendLedger, twilio_sink: TwilioSinkHandle
) -> None:
    # Guards the list call's errors: the client raises a bare TwilioException for a page that is not
    # a 200, which read as "unreadable" and was retried until the SendAt; a 403 (wrong credentials
    # for reading) needs a person, so the row stays in doubt, the reason naming the status.
    twilio_sink.inject(
        {"mode": "drop", "when": "after"}, {"status": 403, "method": "GET", "path": "/2010-04-01/Accounts/"}
    )
    started = time.monotonic()
    report = send_texts(ledger, make_texts(1), twilio_sink.url)
    assert report.in_doubt == 1 and report.problems == [
        f"text {make_texts(1)[0].send_id}: HTTP 403: Twilio error 403"
    ]
    assert time.monotonic() - started < 30
