"""Grouping and request bodies: limits respected, and every body passes the sink's validation."""

from __future__ import annotations

import time

import pytest
from delivery_helpers import OPTIONS, RUN_DATE, make_messages

from reengage.defs.delivery import payloads
from reengage.defs.delivery.payloads import (
    OutboundMessage,
    PayloadOptions,
    RequestGrouper,
    build_mail,
    build_mail_with_helpers,
    custom_args_bytes,
    group_messages,
    local_problem,
)
from reengage_dev.sink.validation import validate_mail_send


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


def test_streamed_grouping_makes_the_same_requests_as_grouping_all_at_once() -> None:
    messages = make_messages(
        2500, email=lambda i: "shared@mail.example" if i % 400 == 0 else f"u{i}@mail.example"
    )
    grouper = RequestGrouper()
    streamed = [g for start in range(0, 2500, 333) for g in grouper.add(messages[start : start + 333])]
    streamed += grouper.flush()
    expected = group_messages(messages)
    assert len(expected) > 3, "the repeated address forces extra requests"
    assert sorted([m.send_id for m in g] for g in streamed) == sorted(
        [m.send_id for m in g] for g in expected
    )


def test_a_stream_of_distinct_requests_goes_out_part_full_before_memory_fills() -> None:
    """Many distinct request keys (many campaigns, texts with their own tags): never hold them all."""
    messages = [make_messages(1, campaign_id=f"campaign-{i}")[0] for i in range(20)]
    grouper = RequestGrouper(10, max_held=5)
    ready: list[list[OutboundMessage]] = []
    for i, message in enumerate(messages):
        ready += grouper.add([message])
        assert (i + 1) - sum(len(g) for g in ready) <= 5, "at most max_held messages wait"
    ready += grouper.flush()
    assert [g[0].campaign_id for g in ready] == [m.campaign_id for m in messages], "oldest first"
    assert all(len(g) == 1 for g in ready)
    assert grouper._open == {}, "closed requests leave nothing behind"


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


def _varied_messages() -> dict[str, list[OutboundMessage]]:
    base = dict(campaign_id="winback", variant="A", run_date=RUN_DATE)
    return {
        "template": [
            OutboundMessage(customer_id="t1", email="a@mail.example", template_id="d-1", **base),
            OutboundMessage(
                customer_id="t2",
                email="b@mail.example",
                template_id="d-1",
                to_name="Bé",
                send_at=1_900_000_000,
                template_data={"first_name": "Bé", "days": 3, "nested": {"k": [1, 2]}},
                **base,
            ),
            OutboundMessage(customer_id="t3", email="c@mail.example", template_id="d-1", send_at=0, **base),
        ],
        # the text holds its own substitution tag: one text, each message's template data as substitutions
        "tagged": [
            OutboundMessage(
                customer_id=f"r{i}",
                email=f"r{i}@mail.example",
                subject="Hi -first_name-",
                html_content="<p>Hi</p>",
                text_content="Hi",
                to_name="R" if i % 2 else None,
                template_data={"first_name": f"N{i}", "n": i},
                **base,
            )
            for i in range(3)
        ],
        # rendered per customer: own subjects, own parts of both bodies as substitutions
        "per customer": [
            OutboundMessage(
                customer_id=f"p{i}",
                email=f"p{i}@mail.example",
                subject=f"{name}, {i} orders",
                html_content=f"<p>Hi {name},</p>\n<p>{i} orders</p>\n",
                text_content=f"Hi {name}, {i} orders",
                to_name=name if i % 2 else None,
                template_data={"first_name": name},
                **base,
            )
            for i, name in enumerate(["Ann", "Bé", "Ann", "Zoë"])
        ],
    }


@pytest.mark.parametrize("kind", ["template", "tagged", "per customer"])
@pytest.mark.parametrize(
    "options", [OPTIONS, PayloadOptions("x@shop.example", None, 12, True)], ids=["plain", "asm"]
)
def test_fast_bodies_equal_what_the_official_helpers_build(kind: str, options: PayloadOptions) -> None:
    messages = _varied_messages()[kind]
    (request,) = group_messages(messages)
    send_at = {messages[0].send_id: 1_900_000_100}
    for batch_id in (None, "batch-1"):
        fast = build_mail(request, options, batch_id=batch_id, send_at=send_at)
        reference = build_mail_with_helpers(request, options, batch_id=batch_id, send_at=send_at)
        assert fast == reference


def test_local_problem_shortcuts_agree_with_the_exact_checks() -> None:
    # the size bound is computed from these keys without building the dict
    assert tuple(make_messages(1)[0].custom_args()) == payloads._CUSTOM_ARGS_KEYS
    long_id = "x" * 9_990
    assert (
        local_problem(make_messages(1, campaign_id=long_id)[0])
        == "custom_args must be less than 10,000 bytes"
    )
    near = make_messages(1, campaign_id="é" * 1_600)[0]  # over the 6-byte bound, under the real size
    assert custom_args_bytes(near) < 10_000 and local_problem(near) is None
    odd = OutboundMessage(
        customer_id="o",
        campaign_id="c",
        variant="A",
        run_date=RUN_DATE,
        email="o@mail.example",
        template_id="d-1",
        template_data={"when": object()},
    )
    assert local_problem(odd) == "template_data is not JSON-serializable"


def test_fast_bodies_still_refuse_mixed_requests() -> None:
    with pytest.raises(ValueError, match="must share"):
        build_mail(make_messages(1) + make_messages(1, campaign_id="other"), OPTIONS)
