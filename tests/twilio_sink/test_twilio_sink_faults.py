"""Injected faults as Twilio would show them, for the SMS sender's crash and retry tests."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from reengage.channels.twilio_http import BaseUrlHttpClient
from reengage_dev.twilio_sink import TwilioSinkHandle, TwilioSinkStore
from tests.sink.sink_helpers import MovableClock
from tests.twilio_sink.conftest import ACCOUNT, SERVICE, client_for
from tests.twilio_sink.test_twilio_sink_messages import TO, schedule


def test_a_rate_limit_answers_twilios_20429_then_the_retry_succeeds(
    twilio: Client, sink: TwilioSinkHandle, clock: MovableClock
) -> None:
    # Guards the sender's backoff path: a 429 with Twilio's body and Retry-After, nothing stored.
    sink.inject({"status": 429, "retry_after": 2})
    with pytest.raises(TwilioRestException) as limited:
        schedule(twilio, clock)
    assert (limited.value.status, limited.value.code) == (429, 20429)
    assert sink.store.texts() == []
    assert schedule(twilio, clock).status == "scheduled"
    assert len(sink.store.texts()) == 1


def test_a_server_error_answers_in_twilios_error_shape(
    twilio: Client, sink: TwilioSinkHandle, clock: MovableClock
) -> None:
    # Guards the retryable 5xx path: the client raises with the status, nothing is stored.
    sink.inject({"status": 503, "message": "service unavailable"})
    with pytest.raises(TwilioRestException) as failed:
        schedule(twilio, clock)
    assert failed.value.status == 503
    assert sink.store.texts() == []


def test_a_timeout_after_acceptance_leaves_one_message_that_list_and_fetch_find(
    sink: TwilioSinkHandle, clock: MovableClock
) -> None:
    # Guards settling an ambiguous send: the client timed out, yet Twilio holds exactly one message,
    # found by listing the recipient and then fetched and cancelled inside the window.
    sink.inject({"mode": "timeout", "delay": 1.5})
    impatient = client_for(sink, timeout=0.5)
    with pytest.raises(requests.exceptions.Timeout):
        schedule(impatient, clock, body="Come back")
    deadline = time.monotonic() + 10
    while not sink.store.texts() and time.monotonic() < deadline:  # the sink answers late, then stores
        time.sleep(0.05)
    patient = client_for(sink)
    [found] = patient.messages.list(to=TO)
    assert (found.body, found.status) == ("Come back", "scheduled")
    assert patient.messages(found.sid).fetch().sid == found.sid
    assert patient.messages(found.sid).update(status="canceled").status == "canceled"
    assert [t.sid for t in sink.store.texts()] == [found.sid]


def test_a_connection_dropped_after_acceptance_leaves_one_stored_message(
    twilio: Client, sink: TwilioSinkHandle, clock: MovableClock
) -> None:
    # Guards the other ambiguous outcome: no answer at all, one message stored.
    sink.inject({"mode": "drop", "when": "after"})
    with pytest.raises(requests.exceptions.ConnectionError):
        schedule(twilio, clock)
    assert len(twilio.messages.list(to=TO)) == 1


def test_faults_can_be_injected_over_http_and_apply_to_messages_posts(
    twilio: Client, sink: TwilioSinkHandle, clock: MovableClock
) -> None:
    # Guards the admin endpoint a sink in another process is driven by: a fault without a path
    # applies to the Messages POSTs, not to the reads.
    answer = requests.post(f"{sink.url}/__faults", json={"status": 500}, timeout=5)
    assert answer.status_code == 201
    assert twilio.messages.list() == []
    with pytest.raises(TwilioRestException):
        schedule(twilio, clock)


def test_no_phone_number_body_or_secret_reaches_the_logs(
    twilio: Client, sink: TwilioSinkHandle, clock: MovableClock, caplog: pytest.LogCaptureFixture
) -> None:
    # Guards the privacy rule: the sink logs method, path and status only (a list's query string
    # carries the number) and the client's own request log stays quiet.
    caplog.set_level(logging.DEBUG)
    sink.inject({"status": 500})
    with pytest.raises(TwilioRestException):
        schedule(twilio, clock, body="Secret offer 1234")
    created = schedule(twilio, clock, body="Secret offer 1234")
    twilio.messages.list(to=TO)
    twilio.messages(created.sid).update(status="canceled")
    # The sink's and the twilio client's loggers (urllib3's own DEBUG lines show request URLs).
    text = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith(("reengage", "twilio")))
    assert "Messages" in text  # the paths are logged
    for secret in (TO, TO.lstrip("+"), "Secret offer", "not-a-real-secret", SERVICE):
        assert secret not in text


def test_the_command_line_serves_until_terminated(tmp_path: Path) -> None:
    # Guards `python -m reengage_dev.twilio_sink serve`: one banner line, then the official client works.
    store = tmp_path / "cli.sqlite"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    process = subprocess.Popen(
        [sys.executable, "-m", "reengage_dev.twilio_sink", "serve", "--store", str(store), "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("twilio sink listening on http://127.0.0.1:"), line
        url = line.removeprefix("twilio sink listening on ")
        client = Client(ACCOUNT, "secret", http_client=BaseUrlHttpClient(url, timeout=5))
        created = client.messages.create(to=TO, from_="+15005550006", body="hi")
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    assert [t.sid for t in TwilioSinkStore(store).texts()] == [created.sid]
