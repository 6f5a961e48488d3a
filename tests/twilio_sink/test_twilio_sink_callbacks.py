"""The status-callback export: records as Twilio's callbacks carry them, drawn from given rates by seed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from twilio.base.exceptions import TwilioRestException

from reengage_dev.twilio_sink import (
    Outcomes,
    Rates,
    export_status_callbacks,
    start_twilio_sink,
    status_callbacks,
)
from tests.sink.sink_helpers import MovableClock
from tests.twilio_sink.conftest import SERVICE, client_for
from tests.twilio_sink.test_twilio_sink_messages import at, schedule

NUMBERS = [f"+49151000{i:05d}" for i in range(60)]
MIXED = Outcomes(Rates(delivered=0.7, undelivered=0.2, failed=0.1, stop=0.3), seed=7)


def run(tmp_path: Path, name: str, outcomes: Outcomes) -> list[dict[str, Any]]:
    """Schedule a text to each number on a fresh sink, let a day pass, return the callbacks sans sids."""
    clock = MovableClock(1_800_000_000.0)
    with start_twilio_sink(tmp_path / f"{name}.sqlite", clock=clock, outcomes=outcomes) as sink:
        twilio = client_for(sink)
        for number in NUMBERS:
            schedule(twilio, clock, to=number, body="Your cart misses you", ahead=600)
        records = status_callbacks(sink.store, as_of=clock.now + 86_400, outcomes=outcomes)
    sids = ("EventId", "MessageSid", "SmsSid")
    return [{k: v for k, v in r.items() if k not in sids} for r in records]


def test_the_export_is_the_same_for_the_same_seed_and_differs_for_another(tmp_path: Path) -> None:
    # Guards the demo's checks against its own truth: the same sends, rates and seed give the same records.
    first, again = run(tmp_path, "a", MIXED), run(tmp_path, "b", MIXED)
    other = run(tmp_path, "c", Outcomes(MIXED.default, seed=8))
    assert first == again
    assert first != other


def test_outcomes_follow_the_given_rates(tmp_path: Path) -> None:
    # Guards the rates the demo world passes: every text ends in one final status, in the given shares.
    records = run(tmp_path, "rates", MIXED)
    finals = [
        r["MessageStatus"] for r in records if r["MessageStatus"] in ("delivered", "undelivered", "failed")
    ]
    assert len(finals) == len(NUMBERS)
    assert 0.5 < finals.count("delivered") / len(finals) < 0.9
    assert {r["ErrorCode"] for r in records if r["MessageStatus"] == "undelivered"} <= {
        "30003",
        "30005",
        "30006",
    }
    stops = [r for r in records if r.get("OptOutType") == "STOP"]
    assert stops and all(r["Body"] == "STOP" and r["From"] in NUMBERS for r in stops)
    assert len(stops) < finals.count("delivered")


def test_everyone_is_delivered_and_nobody_stops_by_default(tmp_path: Path) -> None:
    # Guards the default a test or the demo gets without rates: delivered, no STOP.
    records = run(tmp_path, "default", Outcomes())
    statuses = [r["MessageStatus"] for r in records if r["To"] == NUMBERS[0]]
    assert statuses == ["scheduled", "queued", "sent", "delivered"]
    assert not [r for r in records if "OptOutType" in r]


def test_a_stop_reply_puts_the_number_on_the_opt_out_list(tmp_path: Path) -> None:
    # Guards the loop from a STOP reply to refusal: once replied, the next text is refused with 21610.
    clock = MovableClock(1_800_000_000.0)
    everyone_stops = Outcomes(Rates(stop=1.0))
    with start_twilio_sink(tmp_path / "stop.sqlite", clock=clock, outcomes=everyone_stops) as sink:
        twilio = client_for(sink)
        schedule(twilio, clock, to=NUMBERS[0], ahead=600)
        clock.advance(600 + 40 + 6 * 3600)
        with pytest.raises(TwilioRestException) as refused:
            schedule(twilio, clock, to=NUMBERS[0])
        assert refused.value.code == 21610
        assert sink.store.opted_out(NUMBERS[0])


def test_the_daily_files_are_written_once_and_a_rerun_adds_nothing(tmp_path: Path) -> None:
    # Guards the later sms_events ingest: one file per UTC day, no record twice, nothing lost on rerun,
    # and each record with the query of the StatusCallback URL it would be posted to (the send id).
    clock = MovableClock(1_800_000_000.0)
    with start_twilio_sink(tmp_path / "files.sqlite", clock=clock) as sink:
        twilio = client_for(sink)
        twilio.messages.create(
            to=NUMBERS[0],
            messaging_service_sid=SERVICE,
            body="hi",
            schedule_type="fixed",
            send_at=at(clock, 600),
            status_callback="https://hooks.example/sms?send_id=s-1%7Csms",
        )
        first = export_status_callbacks(
            sink.store, tmp_path / "landing", as_of=clock.now, outcomes=Outcomes()
        )
        later = clock.now + 3600
        second = export_status_callbacks(sink.store, tmp_path / "landing", as_of=later, outcomes=Outcomes())
        third = export_status_callbacks(sink.store, tmp_path / "landing", as_of=later, outcomes=Outcomes())
    assert (first.written, second.written, second.skipped_existing, third.written) == (1, 3, 1, 0)
    [path] = sorted((tmp_path / "landing" / "sms_events").glob("*.jsonl"))
    assert path.name == "sms_events_2027-01-15.jsonl"
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["MessageStatus"] for r in lines] == ["scheduled", "queued", "sent", "delivered"]
    assert len({r["EventId"] for r in lines}) == 4
    # The StatusCallback URL's query is exported flat beside Twilio's fields (the sms_events
    # contract reads `send_id` as a column), never nested.
    assert {r["send_id"] for r in lines} == {"s-1|sms"}
    assert not any("StatusCallbackQuery" in r for r in lines)
