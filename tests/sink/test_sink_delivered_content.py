"""The sink keeps what each recipient receives: substitutions applied as SendGrid does, or template data."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sendgrid import SendGridAPIClient
from sink_helpers import mail_body

from reengage_dev.sink import SinkHandle, SinkStore


def test_each_recipient_receives_the_content_with_their_own_substitutions_applied(
    sink: SinkHandle, sg: SendGridAPIClient
) -> None:
    # Guards the sink standing in for SendGrid: mail rendered per customer travels as shared
    # text plus substitutions, and only the sink can show what a recipient would have read.
    body = mail_body(3)
    body["content"] = [
        {"type": "text/plain", "value": "Hi -name-, -name--n- (-n-)"},
        {"type": "text/html", "value": "<p>Hi -name-</p>"},
    ]
    first, second, third = body["personalizations"]
    first["substitutions"] = {"-name-": "Ann -n-", "-n-": "1", "-name--n-": "whole"}
    second["subject"] = "Your own subject, -name-"
    second["substitutions"] = {"-name-": "Bé"}
    assert sg.client.mail.send.post(request_body=body).status_code == 202
    stored = {m.send_id: m for m in sink.store.messages()}
    # one pass: a value put in is not searched again; where tags overlap, the longest wins
    assert stored["s0"].content == {"text/plain": "Hi Ann -n-, whole (1)", "text/html": "<p>Hi Ann -n-</p>"}
    assert stored["s0"].subject == "We miss you"
    assert (stored["s1"].subject, stored["s1"].content["text/html"]) == (
        "Your own subject, Bé",
        "<p>Hi Bé</p>",
    )
    assert stored["s2"].content == {
        "text/plain": "Hi -name-, -name--n- (-n-)",
        "text/html": "<p>Hi -name-</p>",
    }
    assert (stored["s2"].template_id, stored["s2"].template_data) == (None, None)


def test_a_dynamic_template_message_keeps_its_template_and_the_data_it_is_rendered_from(
    sink: SinkHandle, sg: SendGridAPIClient
) -> None:
    # Guards what the sink can say about template mail: SendGrid renders it from its own copy of
    # the template, so the recipient's message is the template id with their data.
    body = mail_body(2, template_id="d-0123")
    del body["subject"], body["content"]
    body["personalizations"][0]["dynamic_template_data"] = {"first_name": "Zoë", "offer": {"pct": 10}}
    assert sg.client.mail.send.post(request_body=body).status_code == 202
    first, second = sink.store.messages()
    assert (first.subject, first.content, first.template_id) == (None, None, "d-0123")
    assert first.template_data == {"first_name": "Zoë", "offer": {"pct": 10}}
    assert second.template_data == {}


def test_a_store_from_before_the_sink_kept_content_opens_and_keeps_its_messages(tmp_path: Path) -> None:
    # Guards existing demo stores: the content columns are added, old rows read as unknown content.
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE messages (id INTEGER PRIMARY KEY AUTOINCREMENT, x_message_id TEXT NOT NULL, "
            "sg_message_id TEXT NOT NULL UNIQUE, batch_id TEXT, send_id TEXT, customer_id TEXT, "
            "campaign_id TEXT, variant TEXT, run_date TEXT, email TEXT NOT NULL, send_at INTEGER, "
            "status TEXT NOT NULL, received_at REAL NOT NULL, custom_args TEXT NOT NULL)"
        )
        conn.execute(
            "INSERT INTO messages (x_message_id, sg_message_id, send_id, email, status, received_at, "
            "custom_args) VALUES ('x', 'x.0', 's-old', 'old@mail.example', 'accepted', 0, '{}')"
        )
    store = SinkStore(path)
    store.record_request("y", None, [("new@mail.example", None, {"send_id": "s-new"})], now=1.0)
    old, new = SinkStore(path).messages()
    assert (old.send_id, old.subject, old.content) == ("s-old", None, None)
    assert (new.send_id, new.subject, new.content) == ("s-new", None, None)
