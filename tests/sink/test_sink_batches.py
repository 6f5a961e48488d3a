"""Batch ids and scheduled-send cancellation follow SendGrid's rules, including the 10-minute window."""

from __future__ import annotations

import time

import pytest
from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient
from sink_helpers import in_an_hour, mail_body

from orchestration.sink import SinkHandle


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
