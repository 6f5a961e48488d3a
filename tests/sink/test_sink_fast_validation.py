"""The fast path for personalizations after the first gives exactly the full validator's answer."""

from __future__ import annotations

import copy
import time
from typing import Any

import pytest
from sink_helpers import mail_body

from reengage_dev.sink import validation


def full_validation(body: dict[str, Any], now: float) -> list[validation.FieldError]:
    """The reference: jsonschema over the whole body, then the rules."""
    errors = sorted(validation._validator.iter_errors(body), key=lambda e: [str(p) for p in e.absolute_path])
    if errors:
        return [validation._schema_error(e) for e in errors]
    return validation._rule_errors(body, now, lambda _: True)


MUTATIONS: dict[str, Any] = {
    "valid": lambda p: None,
    "no to": lambda p: p.pop("to"),
    "empty to": lambda p: p.update(to=[]),
    "to not a list": lambda p: p.update(to={"email": "x@mail.example"}),
    "recipient not an object": lambda p: p.update(to=["x@mail.example"]),
    "bad address": lambda p: p["to"][0].update(email="not-an-address"),
    "address not a string": lambda p: p["to"][0].update(email=42),
    "name not a string": lambda p: p["to"][0].update(name=7),
    "extra recipient key": lambda p: p["to"][0].update(foo="bar"),
    "custom_args value not a string": lambda p: p["custom_args"].update(n=1),
    "custom_args not an object": lambda p: p.update(custom_args="x"),
    "substitutions": lambda p: p.update(substitutions={"-a-": "b"}),
    "substitutions value not a string": lambda p: p.update(substitutions={"-a-": 1}),
    "dynamic_template_data": lambda p: p.update(dynamic_template_data={"a": [1, {"b": None}]}),
    "dynamic_template_data a list": lambda p: p.update(dynamic_template_data=[1]),
    "headers a string": lambda p: p.update(headers="x"),
    "empty subject": lambda p: p.update(subject=""),
    "subject": lambda p: p.update(subject="Hello"),
    "send_at": lambda p: p.update(send_at=int(time.time()) + 3600),
    "send_at a string": lambda p: p.update(send_at="1"),
    "send_at a float": lambda p: p.update(send_at=1.5),
    "send_at a whole float": lambda p: p.update(send_at=float(int(time.time()) + 60)),
    "send_at a bool": lambda p: p.update(send_at=True),
    "send_at too far": lambda p: p.update(send_at=int(time.time()) + 80 * 3600),
    "cc": lambda p: p.update(cc=[{"email": "cc@mail.example"}]),
    "duplicate address": lambda p: p["to"][0].update(email="user0@mail.example"),
    "unknown key": lambda p: p.update(foo=1),
    "custom_args too big": lambda p: p["custom_args"].update(big="x" * 10_000),
    "custom_args multibyte under the limit": lambda p: p["custom_args"].update(big="é" * 4_900),
    "custom_args multibyte over the limit": lambda p: p["custom_args"].update(big="é" * 5_000),
}


@pytest.mark.parametrize("name", list(MUTATIONS))
@pytest.mark.parametrize("index", [0, 2])
def test_fast_and_full_validation_agree(name: str, index: int) -> None:
    body = mail_body(4)
    MUTATIONS[name](body["personalizations"][index])
    now = time.time()
    expected = full_validation(copy.deepcopy(body), now)
    assert validation.validate_mail_send(body, now=now) == expected
    if name == "valid":
        assert expected == []


def test_personalization_not_an_object_and_too_many() -> None:
    now = time.time()
    for body in (mail_body(3), mail_body(1001)):
        if len(body["personalizations"]) == 3:
            body["personalizations"][1] = "x"
        assert validation.validate_mail_send(body, now=now) == full_validation(body, now)
        assert validation.validate_mail_send(body, now=now)
