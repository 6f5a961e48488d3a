"""Event Webhook records: SendGrid-shaped, deterministic, true to the given rates, merged into landing."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from sendgrid import SendGridAPIClient
from sink_helpers import in_an_hour, mail_body

from reengage_dev.sink import SinkHandle, export_events, simulate_events

EVENTS = {"processed", "delivered", "open", "click", "bounce", "unsubscribe", "spamreport"}


def send(sg: SendGridAPIClient, n: int, offset: int = 0, **overrides) -> None:
    """Send n messages in requests of up to 1000 personalizations with distinct customers."""
    for start in range(0, n, 1000):
        body = mail_body(min(1000, n - start), **overrides)
        for p in body["personalizations"]:
            i = offset + start + int(p["custom_args"]["send_id"][1:])
            p["to"][0]["email"] = f"user{i}@mail.example"
            p["custom_args"].update(send_id=f"s{i}", customer_id=f"c{i}")
        assert sg.client.mail.send.post(request_body=body).status_code == 202


def rates(n: int, open_rate: float, click_rate: float, unsubscribe_rate: float) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "open_rate": open_rate,
            "click_rate": click_rate,
            "unsubscribe_rate": unsubscribe_rate,
        }
    )


def test_records_are_sendgrid_shaped(sink: SinkHandle, sg: SendGridAPIClient) -> None:
    send(sg, 50)
    events = simulate_events(sink.store, rates(50, 0.5, 0.2, 0.05), seed=1, bounce_rate=0.1)
    assert {e["event"] for e in events} <= EVENTS
    assert {"processed", "delivered", "open"} <= {e["event"] for e in events}
    x_message_id = sink.store.messages()[0].x_message_id
    for event in events:
        assert isinstance(event["timestamp"], int)
        assert event["email"].endswith("@mail.example")
        assert event["sg_message_id"].startswith(x_message_id)
        assert len(event["sg_event_id"]) == 22
        for custom in ("send_id", "customer_id", "campaign_id", "variant", "run_date"):
            assert event[custom]
        assert ("reason" in event) == (event["event"] == "bounce")
    assert len({e["sg_event_id"] for e in events}) == len(events)
    assert sum(e["event"] == "processed" for e in events) == 50


def test_deterministic_per_seed(sink: SinkHandle, sg: SendGridAPIClient) -> None:
    send(sg, 100)
    truth = rates(100, 0.4, 0.1, 0.02)
    first = simulate_events(sink.store, truth, seed=7)
    assert first == simulate_events(sink.store, truth, seed=7)
    assert first != simulate_events(sink.store, truth, seed=8)
    send(sg, 10, offset=100)  # more mail later does not change earlier draws
    again = simulate_events(sink.store, truth, seed=7)
    earlier_ids = {e["sg_event_id"] for e in first}
    assert [e for e in again if e["sg_event_id"] in earlier_ids] == first


def test_rates_are_honoured(sink: SinkHandle, sg: SendGridAPIClient) -> None:
    n = 2000
    send(sg, n)
    events = simulate_events(
        sink.store, rates(n, 0.3, 0.1, 0.02), seed=3, bounce_rate=0.0, spamreport_rate=0.0
    )
    share = {kind: sum(e["event"] == kind for e in events) / n for kind in EVENTS}
    assert share["delivered"] == 1.0 and share["bounce"] == 0.0
    assert share["open"] == pytest.approx(0.3, abs=0.035)
    assert share["click"] == pytest.approx(0.1, abs=0.025)
    assert share["unsubscribe"] == pytest.approx(0.02, abs=0.01)
    opened = {e["send_id"] for e in events if e["event"] == "open"}
    assert {e["send_id"] for e in events if e["event"] == "click"} <= opened


def test_cancelled_and_unknown_customers(sink: SinkHandle, sg: SendGridAPIClient) -> None:
    batch_id = sg.client.mail.batch.post().to_dict["batch_id"]
    send(sg, 5, batch_id=batch_id, send_at=in_an_hour())
    sg.client.user.scheduled_sends.post(request_body={"batch_id": batch_id, "status": "cancel"})
    send(sg, 3, offset=5)
    events = simulate_events(sink.store, rates(0, 0, 0, 0), seed=0, bounce_rate=0.0, spamreport_rate=0.0)
    assert {e["send_id"] for e in events} == {"s5", "s6", "s7"}, "cancelled mail never produces events"
    assert {e["event"] for e in events} == {"processed", "delivered"}


def test_export_merges_into_landing_without_losing_or_duplicating(
    sink: SinkHandle, sg: SendGridAPIClient, tmp_path: Path
) -> None:
    landing = tmp_path / "landing"
    send(sg, 40)
    truth = rates(60, 0.5, 0.2, 0.05)
    first = export_events(sink.store, truth, landing, seed=5)
    assert first.written > 0
    day_file = Path(first.paths[0])
    assert day_file.parent == landing / "email_events"
    assert day_file.name.startswith("email_events_") and day_file.suffix == ".jsonl"
    # someone else's record for that day is already there and must survive
    foreign = {"email": "x@y.example", "event": "open", "timestamp": 1, "sg_event_id": "foreign"}
    with day_file.open("a") as handle:
        handle.write(json.dumps(foreign) + "\n")
    again = export_events(sink.store, truth, landing, seed=5)
    assert again.written == 0 and again.skipped_existing == first.written
    send(sg, 20, offset=40)
    more = export_events(sink.store, truth, landing, seed=5)
    assert more.written > 0
    records = [
        json.loads(line) for path in (landing / "email_events").glob("*.jsonl") for line in path.open()
    ]
    assert foreign in records
    assert len({r["sg_event_id"] for r in records}) == len(records)
    assert len(records) == first.written + more.written + 1


def test_as_of_releases_events_over_time(sink: SinkHandle, sg: SendGridAPIClient) -> None:
    send(sg, 30)
    truth = rates(30, 0.9, 0.5, 0.0)
    everything = simulate_events(sink.store, truth, seed=2)
    cutoff = sorted(e["timestamp"] for e in everything)[len(everything) // 2]
    early = simulate_events(sink.store, truth, seed=2, as_of=cutoff)
    assert early == [e for e in everything if e["timestamp"] <= cutoff]


def test_run_date_anchor_puts_events_on_the_run_date(
    sink: SinkHandle, sg: SendGridAPIClient, tmp_path: Path
) -> None:
    send(sg, 10)  # mail_body's run_date is 2024-05-01
    export = export_events(sink.store, rates(10, 0.5, 0.1, 0.0), tmp_path, seed=1, anchor="run_date")
    days = sorted(Path(p).name for p in export.paths)
    assert days[0] == "email_events_2024-05-01.jsonl"
    assert all("2024-05" in d for d in days)
