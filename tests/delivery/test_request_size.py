"""SendGrid's 30 MB a request: dynamic template data that would pass it splits the request, on both sides
of the limit; a message too big for any request is refused before sending."""

from __future__ import annotations

import json

from delivery_helpers import FAST, OPTIONS, RUN_DATE, SleepRecorder
from sendgrid import SendGridAPIClient

from reengage.defs.delivery.ledger import SendLedger
from reengage.defs.delivery.payloads import (
    MAX_REQUEST_BYTES,
    OutboundMessage,
    build_mail,
    group_messages,
    local_problem,
)
from reengage.defs.delivery.sender import deliver
from reengage_dev.sink import SinkHandle
from reengage_dev.sink.validation import MAX_BODY_BYTES

COUNT = 1000


def message(i: int, padding: int) -> OutboundMessage:
    # A cart of big items, as a template with blocks would carry it.
    items = [{"name": "x" * padding, "price": 1.0}]
    return OutboundMessage(
        customer_id=f"c{i:05d}",
        campaign_id="cart",
        variant="control",
        run_date=RUN_DATE,
        email=f"user{i}@mail.example",
        template_id="d-0123456789abcdef0123456789abcdef",
        template_data={"first_name": f"Name{i}", "cart_items": items},
    )


def messages_filling(limit: int, extra: int) -> list[OutboundMessage]:
    """COUNT messages whose sizes add up to exactly `limit` with their request's content, plus `extra`."""
    plain = [message(i, 0) for i in range(COUNT)]
    room = limit - plain[0].request_content_bytes() - sum(m.personalization_bytes() for m in plain)
    share, rest = divmod(room, COUNT)
    filled = [
        message(i, share + (rest if i == COUNT - 1 else 0) + (extra if i == COUNT - 1 else 0))
        for i in range(COUNT)
    ]
    return filled


def body_bytes(group: list[OutboundMessage]) -> int:
    # as the official client serializes it (python_http_client: json.dumps, then UTF-8)
    return len(json.dumps(build_mail(group, OPTIONS)).encode("utf-8"))


def test_a_request_at_the_byte_limit_goes_whole_and_one_byte_more_splits_it() -> None:
    at_limit = messages_filling(MAX_REQUEST_BYTES, extra=0)
    total = at_limit[0].request_content_bytes() + sum(m.personalization_bytes() for m in at_limit)
    assert total == MAX_REQUEST_BYTES
    groups = group_messages(at_limit)
    assert [len(g) for g in groups] == [COUNT]
    # the count is a bound: the body really sent is within it, and within what the sink accepts
    assert 0.95 * MAX_REQUEST_BYTES < body_bytes(groups[0]) <= MAX_REQUEST_BYTES < MAX_BODY_BYTES

    over = messages_filling(MAX_REQUEST_BYTES, extra=1)
    groups = group_messages(over)
    assert [len(g) for g in groups] == [COUNT - 1, 1]
    assert all(body_bytes(g) <= MAX_REQUEST_BYTES for g in groups)


def test_a_day_of_big_template_data_reaches_the_sink_in_requests_it_accepts(
    sink: SinkHandle, ledger: SendLedger, client: SendGridAPIClient
) -> None:
    # 1,000 personalizations of ~40 kB: one request would be ~40 MB, which the sink (like SendGrid)
    # refuses with 413; split by size, every message is accepted.
    messages = [message(i, 40_000) for i in range(COUNT)]
    assert sum(m.personalization_bytes() for m in messages) > MAX_BODY_BYTES
    report = deliver(
        ledger, messages, client, options=OPTIONS, policy=FAST, sleep=SleepRecorder(), min_lead_seconds=0
    )
    assert (report.accepted, report.failed, report.requests) == (COUNT, 0, 2)


def test_a_message_too_big_for_any_request_is_refused_before_sending() -> None:
    assert local_problem(message(0, MAX_REQUEST_BYTES)) is not None
    assert local_problem(message(0, 100_000)) is None
