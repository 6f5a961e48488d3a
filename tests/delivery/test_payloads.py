"""Grouping and request bodies: limits respected, and every body passes the sink's validation."""

from __future__ import annotations

import time

import pytest
from delivery_helpers import OPTIONS, RUN_DATE, make_messages

from orchestration.defs.delivery.payloads import (
    OutboundMessage,
    PayloadOptions,
    build_mail,
    group_messages,
    local_problem,
)
from orchestration.sink.validation import validate_mail_send


def test_requests_hold_at_most_1000_personalizations() -> None:
    groups = group_messages(make_messages(2500))
    assert [len(g) for g in groups] == [1000, 1000, 500]
    assert [m.customer_id for g in groups for m in g] == [m.customer_id for m in make_messages(2500)]


def test_a_repeated_address_goes_to_the_next_request() -> None:
    messages = make_messages(
        6, email=lambda i: "Shared@Mail.example" if i in (0, 2, 4) else f"u{i}@mail.example"
    )
    groups = group_messages(messages)
    for group in groups:
        addresses = [m.email.lower() for m in group]
        assert len(addresses) == len(set(addresses))
    assert [len(g) for g in groups] == [4, 1, 1]


def test_different_templates_never_share_a_request() -> None:
    mixed = make_messages(3) + make_messages(3, campaign_id="browse") + make_messages(2, template_id=None)
    groups = group_messages(mixed)
    assert len(groups) == 3
    assert all(len({m.request_key() for m in g}) == 1 for g in groups)


def test_template_body_is_valid_and_complete() -> None:
    messages = make_messages(3)
    send_at = {m.send_id: 1_900_000_000 + i for i, m in enumerate(messages)}
    options = PayloadOptions(
        from_email="news@shop.example", from_name="Shop", asm_group_id=42, sandbox_mode=True
    )
    body = build_mail(messages, options, batch_id="batch-1", send_at=send_at)
    assert body["from"] == {"email": "news@shop.example", "name": "Shop"}
    assert body["template_id"] == "d-winback" and "subject" not in body
    assert body["categories"] == ["winback"]
    assert body["asm"] == {"group_id": 42}
    assert body["batch_id"] == "batch-1"
    assert body["mail_settings"] == {"sandbox_mode": {"enable": True}}
    for i, (personalization, message) in enumerate(zip(body["personalizations"], messages, strict=True)):
        assert personalization["to"] == [{"email": message.email}]
        assert personalization["dynamic_template_data"] == {"first_name": f"Name{i}"}
        assert personalization["send_at"] == 1_900_000_000 + i
        assert personalization["custom_args"] == {
            "send_id": message.send_id,
            "customer_id": message.customer_id,
            "campaign_id": "winback",
            "variant": message.variant,
            "run_date": RUN_DATE,
        }
    assert validate_mail_send(body, now=1_900_000_000, batch_exists=lambda b: b == "batch-1") == []


def test_rendered_content_body_uses_substitutions() -> None:
    body = build_mail(make_messages(2, template_id=None), OPTIONS)
    assert body["subject"] == "We miss you, -first_name-"
    assert body["content"] == [{"type": "text/html", "value": "<p>Hi -first_name-</p>"}]
    assert body["personalizations"][1]["substitutions"] == {"-first_name-": "Name1"}
    assert validate_mail_send(body, now=time.time()) == []


def test_a_full_request_is_valid() -> None:
    body = build_mail(make_messages(1000), OPTIONS)
    assert len(body["personalizations"]) == 1000
    assert validate_mail_send(body, now=time.time()) == []


def test_addresses_are_passed_verbatim() -> None:
    """The client helper would turn 'not-an-email' into a *name*; the provider must judge it."""
    (message,) = make_messages(1, email=lambda i: "not-an-email")
    body = build_mail([message], OPTIONS)
    assert body["personalizations"][0]["to"] == [{"email": "not-an-email"}]
    assert [e.field for e in validate_mail_send(body, now=time.time())] == ["personalizations.0.to.0.email"]


def test_local_checks() -> None:
    (message,) = make_messages(1)
    assert local_problem(message) is None
    huge = OutboundMessage("c" * 10_000, "w", "A", RUN_DATE, "a@b.example", template_id="d-1")
    assert "10,000 bytes" in (local_problem(huge) or "")
    odd = OutboundMessage(
        "c1", "w", "A", RUN_DATE, "a@b.example", template_id="d-1", template_data={"x": object()}
    )
    assert "JSON" in (local_problem(odd) or "")


def test_message_needs_content_and_hides_its_address() -> None:
    with pytest.raises(ValueError):
        OutboundMessage("c1", "w", "A", RUN_DATE, "a@b.example")
    (message,) = make_messages(1)
    assert "@" not in repr(message) and "Name0" not in repr(message)
    assert "@" not in repr(OPTIONS)
