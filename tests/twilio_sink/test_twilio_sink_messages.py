"""The Messages API through the official `twilio` client over HTTP: create, fetch, list, cancel, time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from reengage_dev.twilio_sink import TwilioSinkHandle
from tests.sink.sink_helpers import MovableClock
from tests.twilio_sink.conftest import ACCOUNT, SERVICE

TO = "+4915112345678"


def at(clock: MovableClock, seconds: float) -> datetime:
    return datetime.fromtimestamp(clock.now + seconds, tz=UTC)


def schedule(twilio: Client, clock: MovableClock, to: str = TO, body: str = "Come back", ahead: float = 3600):
    return twilio.messages.create(
        to=to, messaging_service_sid=SERVICE, body=body, schedule_type="fixed", send_at=at(clock, ahead)
    )


def test_a_scheduled_message_is_created_fetched_and_stored_as_scheduled(
    twilio: Client, sink: TwilioSinkHandle, clock: MovableClock
) -> None:
    # Guards the sender's claim-then-schedule step: the answer is 201 with an SM sid and status scheduled.
    created = schedule(twilio, clock)
    assert created.sid.startswith("SM") and len(created.sid) == 34
    assert created.status == "scheduled"
    assert created.date_sent is None and created.num_segments == "0"
    fetched = twilio.messages(created.sid).fetch()
    assert (fetched.sid, fetched.status, fetched.to, fetched.body) == (
        created.sid,
        "scheduled",
        TO,
        "Come back",
    )
    assert fetched.messaging_service_sid == SERVICE and fetched.account_sid == ACCOUNT
    [stored] = sink.store.texts()
    assert (stored.sid, stored.status, stored.send_at) == (created.sid, "scheduled", clock.now + 3600)


def test_a_scheduled_message_goes_out_when_the_clock_passes_send_at(
    twilio: Client, clock: MovableClock
) -> None:
    # Guards the status progression the sender and the callbacks rely on: scheduled -> queued -> sent ->
    # delivered, each only once the sink's clock has passed its time.
    created = schedule(twilio, clock, ahead=600)
    clock.advance(599)
    assert twilio.messages(created.sid).fetch().status == "scheduled"
    clock.advance(1)
    assert twilio.messages(created.sid).fetch().status == "queued"
    clock.advance(1)
    sent = twilio.messages(created.sid).fetch()
    assert sent.status == "sent" and sent.date_sent == at(clock, 0).replace(microsecond=0)
    assert sent.num_segments == "1"
    clock.advance(30)
    assert twilio.messages(created.sid).fetch().status == "delivered"


def test_a_message_without_a_schedule_goes_out_at_once(twilio: Client, clock: MovableClock) -> None:
    # Guards the difference between scheduled and immediate sends: without ScheduleType it is queued now.
    created = twilio.messages.create(to=TO, from_="+15005550006", body="now")
    assert created.status == "queued"
    clock.advance(60)
    assert twilio.messages(created.sid).fetch().status == "delivered"


def test_a_scheduled_message_can_be_canceled_and_never_goes_out(
    twilio: Client, sink: TwilioSinkHandle, clock: MovableClock
) -> None:
    # Guards cancel-then-resend: a canceled message stays canceled after its SendAt has passed.
    created = schedule(twilio, clock)
    canceled = twilio.messages(created.sid).update(status="canceled")
    assert canceled.status == "canceled"
    clock.advance(7200)
    assert twilio.messages(created.sid).fetch().status == "canceled"
    assert [t.status for t in sink.store.texts()] == ["canceled"]


def test_a_message_that_went_out_cannot_be_canceled(twilio: Client, clock: MovableClock) -> None:
    # Guards the sender against believing a cancel worked once the text went out: Twilio's 30409.
    created = schedule(twilio, clock, ahead=600)
    clock.advance(700)
    with pytest.raises(TwilioRestException) as refused:
        twilio.messages(created.sid).update(status="canceled")
    assert (refused.value.status, refused.value.code) == (400, 30409)
    assert twilio.messages(created.sid).fetch().status == "delivered"


def test_fetching_an_unknown_message_is_a_404(twilio: Client) -> None:
    # Guards settling: a sid the provider never stored answers 404 (20404), not an empty message.
    with pytest.raises(TwilioRestException) as missing:
        twilio.messages("SM" + "f" * 32).fetch()
    assert (missing.value.status, missing.value.code) == (404, 20404)


def test_the_list_filters_by_recipient_newest_first_and_pages_as_the_client_reads_it(
    twilio: Client, clock: MovableClock
) -> None:
    # Guards settling an ambiguous send by listing what Twilio holds for a number: every page is
    # followed (next_page_uri through the sink), other numbers are left out, newest first.
    mine = [schedule(twilio, clock, body=f"text {i}").sid for i in range(5)]
    schedule(twilio, clock, to="+4915199999999")
    listed = twilio.messages.list(to=TO, page_size=2)
    assert [m.sid for m in listed] == mine[::-1]
    assert len(twilio.messages.list(page_size=2)) == 6
    first_page = twilio.messages.page(to=TO, page_size=2)
    assert len(first_page._payload["messages"]) == 2 and first_page.next_page_url is not None


def test_a_date_sent_filter_finds_sent_messages_only(twilio: Client, clock: MovableClock) -> None:
    # Guards the settling advice: a scheduled message has no date_sent, so a DateSent filter never
    # finds it (list by To instead); once sent it is found on its day.
    sent = schedule(twilio, clock, ahead=600)
    pending = schedule(twilio, clock, ahead=86_400)
    clock.advance(700)
    day = at(clock, 0).date()
    on_the_day = twilio.messages.list(to=TO, date_sent=datetime(day.year, day.month, day.day))
    found = {m.sid for m in twilio.messages.list(to=TO, date_sent_after=at(clock, -3600))}
    assert [m.sid for m in on_the_day] == [sent.sid]
    assert found == {sent.sid}
    assert pending.sid not in {m.sid for m in twilio.messages.list(to=TO, date_sent_before=at(clock, 10**6))}


def test_the_status_callback_url_is_kept_but_never_returned(
    twilio: Client, sink: TwilioSinkHandle, clock: MovableClock
) -> None:
    # Guards the sender's settling design: Twilio's Message resource carries no StatusCallback (nor
    # SendAt), so a send id put in the callback URL cannot be read back; settle by To, Body, status.
    created = twilio.messages.create(
        to=TO,
        messaging_service_sid=SERVICE,
        body="hi",
        schedule_type="fixed",
        send_at=at(clock, 3600),
        status_callback="https://hooks.example/sms?send_id=s-1",
    )
    twilio.messages(created.sid).fetch()
    last = twilio.http_client._test_only_last_response  # the raw answer the client parsed
    assert last is not None and created.sid in last.text
    assert "send_id" not in last.text and "status_callback" not in last.text and "send_at" not in last.text
    assert sink.store.texts()[0].status_callback == "https://hooks.example/sms?send_id=s-1"


def test_a_message_is_listed_and_fetched_only_under_the_account_that_created_it(twilio: Client) -> None:
    # Guards the account path: a message is listed and fetched only under the account that created it.
    created = twilio.messages.create(to=TO, from_="+15005550006", body="x")
    other = Client("AC" + "9" * 32, "secret", http_client=twilio.http_client)
    assert other.messages.list() == []
    with pytest.raises(TwilioRestException):
        other.messages(created.sid).fetch()


def test_scheduling_window_edges(twilio: Client, clock: MovableClock) -> None:
    # Guards the window the sender computes SendAt in: more than 300 s and at most 35 days ahead.
    assert schedule(twilio, clock, ahead=301).status == "scheduled"
    assert schedule(twilio, clock, ahead=timedelta(days=35).total_seconds()).status == "scheduled"
