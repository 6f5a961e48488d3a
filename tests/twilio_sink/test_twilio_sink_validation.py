"""Requests Twilio refuses are refused, with Twilio's codes, through the official client."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from reengage_dev.twilio_sink import TwilioSinkHandle
from tests.sink.sink_helpers import MovableClock
from tests.twilio_sink.conftest import ACCOUNT, SERVICE
from tests.twilio_sink.test_twilio_sink_messages import TO, at


def refusal(twilio: Client, **params: Any) -> tuple[int, int]:
    with pytest.raises(TwilioRestException) as refused:
        twilio.messages.create(**params)
    return refused.value.status, refused.value.code


def scheduled(clock: MovableClock, ahead: float = 3600, **overrides: Any) -> dict[str, Any]:
    params = dict(
        to=TO, messaging_service_sid=SERVICE, body="hi", schedule_type="fixed", send_at=at(clock, ahead)
    )
    params.update(overrides)
    return params


@pytest.mark.parametrize(
    ("ahead", "code"),
    [(300, 35114), (60, 35114), (-60, 35114), (35 * 86_400 + 1, 35114), (40 * 86_400, 35114)],
)
def test_send_at_outside_the_window_is_refused(
    twilio: Client, sink: TwilioSinkHandle, clock: MovableClock, ahead: float, code: int
) -> None:
    # Guards the window the sender's cancel-then-resend depends on: more than 300 s, at most 35 days.
    assert refusal(twilio, **scheduled(clock, ahead)) == (400, code)
    assert sink.store.texts() == []


def test_scheduling_without_a_messaging_service_is_refused(twilio: Client, clock: MovableClock) -> None:
    # Guards against a scheduled send silently going out at once: scheduling needs an MG service (35118).
    params = scheduled(clock, messaging_service_sid=None, from_="+15005550006")
    assert refusal(twilio, **params) == (400, 35118)


def test_a_fixed_schedule_without_send_at_is_refused(twilio: Client, clock: MovableClock) -> None:
    # Guards ScheduleType=fixed without SendAt (35111).
    assert refusal(twilio, **scheduled(clock, send_at=None)) == (400, 35111)


def test_a_send_at_that_is_not_a_timestamp_is_refused(twilio: Client, clock: MovableClock) -> None:
    # Guards SendAt's format: ISO-8601 with a zone (35115).
    assert refusal(twilio, **scheduled(clock, send_at="tomorrow at nine")) == (400, 35115)


@pytest.mark.parametrize(
    "to", ["015112345678", "+0151123456", "+49 151 1234567", "+123456", "whatsapp:+4915112345678"]
)
def test_a_recipient_that_is_not_e164_is_refused(twilio: Client, clock: MovableClock, to: str) -> None:
    # Guards the number rule the product shares (reengage/phones.py): Twilio's 21211.
    assert refusal(twilio, **scheduled(clock, to=to)) == (400, 21211)


def test_a_message_without_a_body_is_refused(twilio: Client, clock: MovableClock) -> None:
    # Guards an empty render reaching the provider: 21602.
    assert refusal(twilio, **scheduled(clock, body=None)) == (400, 21602)


def test_a_body_over_1600_characters_is_refused_and_1600_accepted(
    twilio: Client, clock: MovableClock
) -> None:
    # Guards the renderer's length limit against the provider's: 21617 above 1,600 characters.
    assert refusal(twilio, **scheduled(clock, body="x" * 1601)) == (400, 21617)
    assert twilio.messages.create(**scheduled(clock, body="x" * 1600)).status == "scheduled"


def test_a_number_on_the_opt_out_list_is_refused(
    twilio: Client, sink: TwilioSinkHandle, clock: MovableClock
) -> None:
    # Guards the STOP rule: a recipient who replied STOP gets nothing more (21610), which the
    # sender records as a suppression.
    sink.store.add_opt_out(TO, clock.now - 60)
    assert refusal(twilio, **scheduled(clock)) == (400, 21610)
    assert refusal(twilio, to=TO, from_="+15005550006", body="now") == (400, 21610)
    assert twilio.messages.create(**scheduled(clock, to="+4915100000000")).status == "scheduled"


def test_missing_recipient_or_sender_is_refused(twilio: Client) -> None:
    # Guards the two required parts of a send (21604, 21603).
    assert refusal(twilio, to="", from_="+15005550006", body="x") == (400, 21604)
    assert refusal(twilio, to=TO, body="x") == (400, 21603)


@pytest.mark.parametrize(
    "override",
    [
        {"schedule_type": "recurring"},
        {"messaging_service_sid": "MG123"},
        {"validity_period": 0},
        {"smart_encoded": "perhaps"},
        {"status_callback": "not a url"},
        {"status_callback": "https://bad_host.example/cb"},
    ],
)
def test_parameters_the_description_types_otherwise_are_refused(
    twilio: Client, sink: TwilioSinkHandle, clock: MovableClock, override: dict[str, Any]
) -> None:
    # Guards the description's enums, patterns and types: a typo is refused, never stored.
    status, code = refusal(twilio, **scheduled(clock, **override))
    assert status == 400 and code in (400, 21705, 21609)
    assert sink.store.texts() == []


def test_a_cancel_asks_for_status_canceled_only(twilio: Client, clock: MovableClock) -> None:
    # Guards UpdateMessageRequest's Status enum: only "canceled" exists.
    created = twilio.messages.create(**scheduled(clock))
    with pytest.raises(TwilioRestException) as refused:
        twilio.messages(created.sid).update(status="paused")
    assert refused.value.status == 400
    assert twilio.messages(created.sid).fetch().status == "scheduled"


def test_requests_without_credentials_are_refused(sink: TwilioSinkHandle) -> None:
    # Guards auth like Twilio's: Basic with a non-empty user and secret, else 401 (20003).
    url = f"{sink.url}/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
    for auth in (None, (ACCOUNT, "")):
        answer = requests.get(url, auth=auth, timeout=5)
        assert answer.status_code == 401 and answer.json()["code"] == 20003
    assert requests.get(url, auth=("SK" + "1" * 32, "api-secret"), timeout=5).status_code == 200
