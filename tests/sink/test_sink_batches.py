"""Batch ids and scheduled-send cancellation follow SendGrid's rules, including the 10-minute window."""

from __future__ import annotations

import time

import pytest
from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient
from sink_helpers import MovableClock, in_an_hour, mail_body

from reengage_dev.sink import SinkHandle, start_sink


def new_batch(sg: SendGridAPIClient) -> str:
    response = sg.client.mail.batch.post()
    assert response.status_code == 201
    return response.to_dict["batch_id"]


def cancel(sg: SendGridAPIClient, batch_id: str, status: str = "cancel") -> int:
    return sg.client.user.scheduled_sends.post(
        request_body={"batch_id": batch_id, "status": status}
    ).status_code


def test_batch_ids_are_created_and_validated(sg: SendGridAPIClient) -> None:
    batch_id = new_batch(sg)
    assert sg.client.mail.batch._(batch_id).get().to_dict == {"batch_id": batch_id}
    with pytest.raises(HTTPError) as caught:
        sg.client.mail.batch._("never-created").get()
    assert caught.value.status_code == 400


def test_cancelling_a_scheduled_batch_cancels_its_mail(sink: SinkHandle, sg: SendGridAPIClient) -> None:
    batch_id = new_batch(sg)
    sg.client.mail.send.post(request_body=mail_body(3, batch_id=batch_id, send_at=in_an_hour()))
    assert cancel(sg, batch_id) == 201
    assert {m.status for m in sink.store.messages()} == {"cancelled"}
    assert sink.store.count_by_send_id() == {}
    assert sg.client.user.scheduled_sends._(batch_id).get().to_dict == [
        {"batch_id": batch_id, "status": "cancel"}
    ]
    # mail sent into an already cancelled batch is cancelled on arrival
    late = mail_body(1, batch_id=batch_id, send_at=in_an_hour())
    late["personalizations"][0]["custom_args"]["send_id"] = "late"
    assert sg.client.mail.send.post(request_body=late).status_code == 202
    assert sink.store.counts_by_status() == {"cancelled": 4}


def test_no_cancel_within_ten_minutes_of_send_at(sink: SinkHandle, sg: SendGridAPIClient) -> None:
    batch_id = new_batch(sg)
    sg.client.mail.send.post(request_body=mail_body(2, batch_id=batch_id, send_at=int(time.time()) + 300))
    with pytest.raises(HTTPError) as caught:
        cancel(sg, batch_id)
    assert caught.value.status_code == 400
    assert sink.store.count_by_send_id() == {"s0": 1, "s1": 1}


def test_mail_without_send_at_went_out_and_cannot_be_cancelled(
    sink: SinkHandle, sg: SendGridAPIClient
) -> None:
    batch_id = new_batch(sg)
    sg.client.mail.send.post(request_body=mail_body(1, batch_id=batch_id))
    with pytest.raises(HTTPError):
        cancel(sg, batch_id)
    assert sink.store.counts_by_status() == {"accepted": 1}


def test_an_empty_batch_can_be_cancelled_before_mail_arrives(sink: SinkHandle, sg: SendGridAPIClient) -> None:
    batch_id = new_batch(sg)
    assert cancel(sg, batch_id) == 201
    sg.client.mail.send.post(request_body=mail_body(1, batch_id=batch_id, send_at=in_an_hour()))
    assert sink.store.counts_by_status() == {"cancelled": 1}


def test_pause_resume_and_switch_to_cancel(sink: SinkHandle, sg: SendGridAPIClient) -> None:
    batch_id = new_batch(sg)
    sg.client.mail.send.post(request_body=mail_body(2, batch_id=batch_id, send_at=in_an_hour()))
    assert cancel(sg, batch_id, "pause") == 201
    assert sink.store.messages(include_paused=False) == []
    assert sg.client.user.scheduled_sends._(batch_id).delete().status_code == 204
    assert len(sink.store.messages(include_paused=False)) == 2
    assert cancel(sg, batch_id, "pause") == 201
    assert (
        sg.client.user.scheduled_sends._(batch_id).patch(request_body={"status": "cancel"}).status_code == 204
    )
    assert sink.store.counts_by_status() == {"cancelled": 2}
    listed = sg.client.user.scheduled_sends.get().to_dict
    assert {"batch_id": batch_id, "status": "cancel"} in listed


def test_bad_status_and_unknown_batch_are_400(sg: SendGridAPIClient) -> None:
    batch_id = new_batch(sg)
    for body in ({"batch_id": batch_id, "status": "stop"}, {"batch_id": "nope", "status": "cancel"}):
        with pytest.raises(HTTPError) as caught:
            sg.client.user.scheduled_sends.post(request_body=body)
        assert caught.value.status_code == 400


def test_at_most_ten_pending_cancellations(sg: SendGridAPIClient) -> None:
    for _ in range(10):
        assert cancel(sg, new_batch(sg)) == 201
    with pytest.raises(HTTPError) as caught:
        cancel(sg, new_batch(sg))
    assert caught.value.status_code == 400


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
def timed_sink(tmp_path, clock: MovableClock):
    with start_sink(tmp_path / "timed.sqlite", clock=clock) as handle:
        yield handle


def test_a_cancelled_batch_gives_its_place_back_once_its_mail_is_past_send_at(
    timed_sink: SinkHandle, clock: MovableClock
) -> None:
    # Guards the place count: SendGrid discards a cancelled batch's mail at send_at, and the
    # sender's cancel budget relies on that place coming back.
    sg = SendGridAPIClient(api_key="k", host=timed_sink.url)
    due = int(clock.now) + 3600
    for _ in range(10):
        batch_id = new_batch(sg)
        sg.client.mail.send.post(request_body=mail_body(1, batch_id=batch_id, send_at=due))
        assert cancel(sg, batch_id) == 201
    with pytest.raises(HTTPError) as caught:
        cancel(sg, new_batch(sg))
    assert caught.value.status_code == 400
    clock.advance(3601)
    assert timed_sink.store.statuses_in_effect(clock.now) == 0
    assert cancel(sg, new_batch(sg)) == 201


def test_deleting_a_cancel_after_send_at_keeps_the_mail_discarded(
    timed_sink: SinkHandle, clock: MovableClock
) -> None:
    # Guards the resume rule: SendGrid allows removing a status at any time (that is how a
    # paused batch is resumed after its send_at); mail already discarded stays discarded.
    sg = SendGridAPIClient(api_key="k", host=timed_sink.url)
    batch_id = new_batch(sg)
    sg.client.mail.send.post(request_body=mail_body(2, batch_id=batch_id, send_at=int(clock.now) + 3600))
    assert cancel(sg, batch_id) == 201
    clock.advance(3700)
    assert sg.client.user.scheduled_sends._(batch_id).delete().status_code == 204
    assert timed_sink.store.counts_by_status() == {"cancelled": 2}
    assert sg.client.user.scheduled_sends._(batch_id).get().to_dict == []


def test_an_unused_cancellation_holds_its_place_until_deleted(
    timed_sink: SinkHandle, clock: MovableClock
) -> None:
    # Guards the conservative rule for a batch that never received mail (the request was lost
    # before the provider stored it): only deleting the status frees the place.
    sg = SendGridAPIClient(api_key="k", host=timed_sink.url)
    batch_id = new_batch(sg)
    assert cancel(sg, batch_id) == 201
    clock.advance(7 * 24 * 3600)
    assert timed_sink.store.statuses_in_effect(clock.now) == 1
    assert sg.client.user.scheduled_sends._(batch_id).delete().status_code == 204
    assert timed_sink.store.statuses_in_effect(clock.now) == 0


def test_a_paused_batch_keeps_its_mail_until_72_hours_after_send_at(
    timed_sink: SinkHandle, clock: MovableClock
) -> None:
    # Guards SendGrid's pause rule: resumed within 72 hours of send_at the mail goes out,
    # later it has expired.
    sg = SendGridAPIClient(api_key="k", host=timed_sink.url)
    early, late = new_batch(sg), new_batch(sg)
    for batch_id in (early, late):
        sg.client.mail.send.post(request_body=mail_body(1, batch_id=batch_id, send_at=int(clock.now) + 3600))
        assert cancel(sg, batch_id, "pause") == 201
    clock.advance(3600 + 71 * 3600)
    assert timed_sink.store.statuses_in_effect(clock.now) == 2
    assert sg.client.user.scheduled_sends._(early).delete().status_code == 204
    clock.advance(2 * 3600)
    assert timed_sink.store.statuses_in_effect(clock.now) == 0
    assert sg.client.user.scheduled_sends._(late).delete().status_code == 204
    by_batch = {m.batch_id: m.status for m in timed_sink.store.messages()}
    assert by_batch == {early: "accepted", late: "expired"}


def test_every_cancel_and_resume_is_logged_with_its_answer(sink: SinkHandle, sg: SendGridAPIClient) -> None:
    # Guards the record tests judge a sender by: each status change, its HTTP answer and the
    # places taken after it.
    batch_id = new_batch(sg)
    assert cancel(sg, batch_id) == 201
    with pytest.raises(HTTPError):
        cancel(sg, batch_id)
    assert sg.client.user.scheduled_sends._(batch_id).delete().status_code == 204
    log = [
        (r["batch_id"], r["requested"], r["http_status"], r["message"], r["in_effect"])
        for r in sink.store.status_requests()
    ]
    assert log == [
        (batch_id, "cancel", 201, None, 1),
        (batch_id, "cancel", 400, "This batch already has a status; update it with PATCH.", 1),
        (batch_id, None, 204, None, 0),
    ]
