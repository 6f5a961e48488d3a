"""The sink accepts what SendGrid accepts and rejects, with SendGrid's error shape, what it rejects."""

from __future__ import annotations

import copy
import gzip
import json
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient
from sink_helpers import in_an_hour, mail_body

from reengage_dev.sink import SinkHandle, start_sink
from reengage_dev.sink.schema import VENDORED_SPEC, mail_send_schema
from reengage_dev.sink.validation import MAX_BODY_BYTES, validate_mail_send


def post_expecting_error(sg: SendGridAPIClient, body: Any) -> HTTPError:
    with pytest.raises(HTTPError) as caught:
        sg.client.mail.send.post(request_body=body)
    return caught.value


def error_fields(error: HTTPError) -> list[str | None]:
    payload = json.loads(error.body)
    for item in payload["errors"]:
        assert set(item) == {"message", "field", "help"} and item["help"] is None
        assert item["message"]
    return [item["field"] for item in payload["errors"]]


def test_good_request_is_accepted_and_stored(sink: SinkHandle, sg: SendGridAPIClient) -> None:
    response = sg.client.mail.send.post(request_body=mail_body(3))
    assert response.status_code == 202
    message_id = response.headers["X-Message-Id"]
    assert message_id
    stored = sink.store.messages()
    assert [m.send_id for m in stored] == ["s0", "s1", "s2"]
    first = stored[0]
    assert (first.x_message_id, first.status, first.email) == (message_id, "accepted", "user0@mail.example")
    assert (first.campaign_id, first.variant, first.run_date, first.customer_id) == (
        "winback",
        "A",
        "2024-05-01",
        "c0",
    )
    assert sink.store.count_by_send_id() == {"s0": 1, "s1": 1, "s2": 1}


def test_template_request_needs_no_subject_or_content(sink: SinkHandle, sg: SendGridAPIClient) -> None:
    body = mail_body(1, template_id="d-123")
    del body["subject"], body["content"]
    body["personalizations"][0]["dynamic_template_data"] = {"first_name": "Ada"}
    assert sg.client.mail.send.post(request_body=body).status_code == 202


def test_message_level_custom_args_object_is_accepted(sg: SendGridAPIClient) -> None:
    """Gap 1 of the OpenAPI file: it types message-level custom_args as a string."""
    body = mail_body(1, custom_args={"source": "pipeline"})
    assert sg.client.mail.send.post(request_body=body).status_code == 202


def test_cc_recipients_and_message_custom_args_are_stored_per_recipient(
    sink: SinkHandle, sg: SendGridAPIClient
) -> None:
    body = mail_body(2, custom_args={"source": "pipeline", "variant": "message-level"})
    body["personalizations"][0]["cc"] = [{"email": "copy@mail.example"}]
    body["personalizations"][1]["send_at"] = in_an_hour()
    assert sg.client.mail.send.post(request_body=body).status_code == 202
    stored = sink.store.messages()
    assert [(m.send_id, m.email) for m in stored] == [
        ("s0", "user0@mail.example"),
        ("s0", "copy@mail.example"),
        ("s1", "user1@mail.example"),
    ]
    assert [m.sg_message_id.split(".")[2] for m in stored] == ["0", "1", "2"]
    # personalization-level args win over message-level ones, as in SendGrid
    assert stored[1].custom_args == {**body["personalizations"][0]["custom_args"], "source": "pipeline"}
    assert stored[0].send_at is None and stored[2].send_at == body["personalizations"][1]["send_at"]


def test_several_broken_rules_are_all_reported_rule_by_rule() -> None:
    now = time.time()
    body = mail_body(3, send_at=int(now) + 80 * 3600, batch_id="no-such-batch")
    body["personalizations"][1]["to"][0]["email"] = "USER0@mail.example"
    body["personalizations"][2]["custom_args"]["blob"] = "x" * 10_000
    body["personalizations"][0]["send_at"] = int(now) + 80 * 3600
    body["personalizations"][2]["to"] += [{"email": f"more{i}@mail.example"} for i in range(999)]
    errors = validate_mail_send(body, now=now, batch_exists=lambda _: False)
    assert [e.field for e in errors] == [
        "personalizations",  # more than 1,000 recipients
        "personalizations.1.to.0.email",
        "personalizations.2.custom_args",
        "send_at",
        "personalizations.0.send_at",
        "batch_id",
    ]


def _without(key: str):
    def mutate(body: dict[str, Any]) -> None:
        del body[key]

    return mutate


def _set(path: str, value: Any):
    def mutate(body: dict[str, Any]) -> None:
        target: Any = body
        *parents, last = path.split(".")
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        if last.isdigit():
            target[int(last)] = value
        else:
            target[last] = value

    return mutate


def _many_personalizations(n: int):
    def mutate(body: dict[str, Any]) -> None:
        body["personalizations"] = mail_body(n)["personalizations"]

    return mutate


def _many_recipients(body: dict[str, Any]) -> None:
    body["personalizations"] = [
        {"to": [{"email": f"p{p}r{r}@mail.example"} for r in range(501)]} for p in range(2)
    ]


def _duplicate_address(body: dict[str, Any]) -> None:
    body["personalizations"] = mail_body(2)["personalizations"]
    body["personalizations"][1]["to"][0]["email"] = "USER0@mail.example"


def _big_custom_args(body: dict[str, Any]) -> None:
    body["personalizations"][0]["custom_args"]["blob"] = "x" * 10_000


REJECTIONS = [
    ("no personalizations", _without("personalizations"), "personalizations"),
    ("empty personalizations", _set("personalizations", []), "personalizations"),
    ("too many personalizations", _many_personalizations(1001), "personalizations"),
    ("personalization without to", _set("personalizations.0", {"subject": "x"}), "personalizations.0.to"),
    ("empty to", _set("personalizations.0.to", []), "personalizations.0.to"),
    ("no from", _without("from"), "from"),
    ("from without email", _set("from", {"name": "Shop"}), "from.email"),
    ("invalid from email", _set("from.email", "shop.example"), "from.email"),
    (
        "invalid to email",
        _set("personalizations.0.to.0.email", "user at example"),
        "personalizations.0.to.0.email",
    ),
    ("no subject without template", _without("subject"), "subject"),
    ("no content without template", _without("content"), "content"),
    ("more than 1000 recipients", _many_recipients, "personalizations"),
    ("address twice in a request", _duplicate_address, "personalizations.1.to.0.email"),
    ("custom_args of 10,000 bytes", _big_custom_args, "personalizations.0.custom_args"),
    ("message custom_args of 10,000 bytes", _set("custom_args", {"blob": "y" * 10_000}), "custom_args"),
    (
        "substitutions over 10,000 bytes",
        _set("personalizations.0.substitutions", {"-body-": "z" * 9_990}),
        "personalizations.0.substitutions",
    ),
    ("custom_args value not a string", _set("personalizations.0.custom_args.send_id", 7), None),
    ("eleven categories", _set("categories", [f"c{i}" for i in range(11)]), "categories"),
    ("send_at beyond 72 hours", _set("send_at", 10**10), "send_at"),
    (
        "personal send_at beyond 72 hours",
        _set("personalizations.0.send_at", 10**10),
        "personalizations.0.send_at",
    ),
    ("unknown batch id", _set("batch_id", "no-such-batch"), "batch_id"),
]


@pytest.mark.parametrize(("case", "mutate", "field"), REJECTIONS, ids=[r[0] for r in REJECTIONS])
def test_each_rule_rejects_with_400_and_the_field(
    sink: SinkHandle, sg: SendGridAPIClient, case: str, mutate: Any, field: str | None
) -> None:
    body = copy.deepcopy(mail_body(2 if case == "address twice in a request" else 1))
    mutate(body)
    error = post_expecting_error(sg, body)
    assert error.status_code == 400, case
    fields = error_fields(error)
    if field is None:  # type errors name the nested key
        assert fields == ["personalizations.0.custom_args.send_id"]
    else:
        assert field in fields, (case, fields)
    assert sink.store.messages() == [], "a rejected request must store nothing"


def test_errors_never_echo_an_address(sg: SendGridAPIClient) -> None:
    body = mail_body(2)
    body["personalizations"][1]["to"][0]["email"] = "user0@mail.example"
    body["from"]["email"] = "secret-sender-at-example"
    error = post_expecting_error(sg, body)
    assert b"user0@" not in error.body and b"secret-sender" not in error.body


def test_send_at_within_72_hours_is_fine(sg: SendGridAPIClient) -> None:
    body = mail_body(1, send_at=in_an_hour())
    assert sg.client.mail.send.post(request_body=body).status_code == 202


def test_missing_or_empty_key_is_401(sink: SinkHandle, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SENDGRID_API_KEY", raising=False)
    anonymous = SendGridAPIClient(api_key=None, host=sink.url)  # sends "Bearer None"
    assert post_expecting_error(anonymous, mail_body()).status_code == 401
    request = urllib.request.Request(
        f"{sink.url}/v3/mail/send", data=json.dumps(mail_body()).encode(), method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=5)
    assert caught.value.code == 401
    assert sink.store.messages() == []


def test_invalid_json_is_400(sink: SinkHandle) -> None:
    request = urllib.request.Request(
        f"{sink.url}/v3/mail/send",
        data=b"{not json",
        method="POST",
        headers={"Authorization": "Bearer k", "Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=5)
    assert caught.value.code == 400
    assert json.loads(caught.value.read())["errors"][0]["field"] is None


def test_gzip_body_is_accepted(sink: SinkHandle) -> None:
    request = urllib.request.Request(
        f"{sink.url}/v3/mail/send",
        data=gzip.compress(json.dumps(mail_body(2)).encode()),
        method="POST",
        headers={"Authorization": "Bearer k", "Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 202
    assert len(sink.store.messages()) == 2


def test_oversize_body_is_413(tmp_path: Path) -> None:
    assert MAX_BODY_BYTES == 30 * 1024 * 1024
    with start_sink(tmp_path / "small.sqlite", max_body_bytes=2_000) as small:
        sg = SendGridAPIClient(api_key="k", host=small.url)
        body = mail_body(1, content=[{"type": "text/html", "value": "x" * 5_000}])
        assert post_expecting_error(sg, body).status_code == 413
        assert small.store.messages() == []


def test_sandbox_mode_answers_200_and_delivers_nothing(sink: SinkHandle, sg: SendGridAPIClient) -> None:
    body = mail_body(1, mail_settings={"sandbox_mode": {"enable": True}})
    assert sg.client.mail.send.post(request_body=body).status_code == 200
    assert sink.store.count_by_send_id() == {}
    assert sink.store.counts_by_status() == {"sandbox": 1}


def test_schema_comes_from_the_vendored_openapi_file() -> None:
    shared = Path(__file__).resolve().parents[3] / "shared" / "sendgrid" / "tsg_mail_v3.json"
    if shared.exists():
        assert VENDORED_SPEC.read_bytes() == shared.read_bytes(), "vendored OpenAPI copy drifted"
    schema = mail_send_schema()
    assert schema["properties"]["personalizations"]["maxItems"] == 1000
    assert schema["properties"]["categories"]["maxItems"] == 10
    # the two documented gaps are patched
    assert schema["properties"]["custom_args"]["type"] == "object"
    assert schema["properties"]["personalizations"]["minItems"] == 1
    assert schema["properties"]["personalizations"]["items"]["properties"]["to"]["minItems"] == 1
