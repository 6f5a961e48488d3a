"""The sms_events source: Twilio status callbacks and replies as the local sink exports them, checked
numbers, and a source that is absent for a team without SMS until its first export lands."""

from __future__ import annotations

import json
import tomllib
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest

from reengage.defs.ingest.contracts import (
    expected_sources,
    is_absent,
    missing_file_rule,
    required_sources,
)
from reengage.defs.ingest.loader import load_day
from reengage.defs.operations.exports_sensor import DayState, evaluate_day
from reengage.defs.operations.landed_exports import scan_day
from reengage.settings_template import render_template
from reengage.summary import _exports as exports_summary
from reengage_dev.twilio_sink import Outcomes, Rates, export_status_callbacks, start_twilio_sink
from tests.sink.sink_helpers import MovableClock
from tests.twilio_sink.conftest import SERVICE, client_for
from tests.twilio_sink.test_twilio_sink_messages import at

NUMBERS = [f"+49151000{i:05d}" for i in range(4)]
DAY = date(2027, 1, 15)  # the sink's clock below starts on 2027-01-15 (UTC)


@pytest.fixture()
def con(tmp_path: Path):
    connection = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    yield connection
    connection.close()


def _write(landing: Path, day: date, records: list[dict]) -> Path:
    path = landing / "sms_events" / f"sms_events_{day.isoformat()}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_the_twilio_sinks_callback_export_loads_as_sms_events_with_its_send_ids_and_stop_replies(
    tmp_path: Path, con
) -> None:
    # Guards the contract against the export it is written for: the sink's records (flat StatusCallback
    # query, replies with OptOutType, a messaging service's texts without From) load with nothing refused.
    clock = MovableClock(1_800_000_000.0)
    assert datetime.fromtimestamp(clock.now, tz=UTC).date() == DAY
    outcomes = Outcomes(Rates(delivered=1.0, undelivered=0.0, failed=0.0, stop=1.0), seed=3)
    with start_twilio_sink(tmp_path / "twilio.sqlite", clock=clock, outcomes=outcomes) as sink:
        twilio = client_for(sink)
        for i, number in enumerate(NUMBERS):
            twilio.messages.create(
                to=number,
                messaging_service_sid=SERVICE,
                body="Your cart misses you",
                schedule_type="fixed",
                send_at=at(clock, 600),
                status_callback=f"https://hooks.example/sms?send_id={i:032x}%7Csms",
            )
        export_status_callbacks(
            sink.store, tmp_path / "landing", as_of=clock.now + 6 * 3600, outcomes=outcomes
        )
    report = load_day(con, str(tmp_path / "landing"), "sms_events", DAY)
    assert report.rows_quarantined == 0 and report.rows_loaded == report.rows_read > 0
    stops = con.execute(
        """select "From", "OptOutType", "MessageStatus" from raw.sms_events where "OptOutType" is not null"""
    ).fetchall()
    assert sorted(stops) == [(n, "STOP", "received") for n in NUMBERS]
    send_ids = con.execute(
        """select distinct send_id from raw.sms_events where "MessageStatus" = 'delivered' order by 1"""
    ).fetchall()
    assert send_ids == [(f"{i:032x}|sms",) for i in range(len(NUMBERS))]


def test_a_stop_from_a_malformed_number_is_refused_naming_file_row_and_column_and_the_rest_is_kept(
    tmp_path: Path, con
) -> None:
    # Guards the one test of a number (reengage/phones.py) on the SMS events: a reply from a number
    # that is no E.164 number was loaded as a key nothing matches, with no word of it; it is refused
    # with its place, so dbt can read it back (stg_twilio__refused_sms_events), and the good rows stay.
    base = {"Timestamp": "2027-01-15T10:00:00Z", "To": "+14155550100", "MessageStatus": "received"}
    path = _write(
        tmp_path,
        DAY,
        [
            {**base, "EventId": "e1", "MessageSid": "SM1", "From": "+4915100000001", "OptOutType": "stop"},
            {**base, "EventId": "e2", "MessageSid": "SM2", "From": "+49 151 0000002", "OptOutType": "STOP"},
            {**base, "EventId": "e3", "MessageSid": "SM3", "From": "+4915100000003", "MessageStatus": "Read"},
            {
                **base,
                "EventId": "e4",
                "MessageSid": "SM4",
                "To": "+4915100000004",
                "MessageStatus": "undelivered",
                "ErrorCode": "30006",
                "send_id": "0" * 32 + "|sms",
            },
        ],
    )
    report = load_day(con, str(tmp_path), "sms_events", DAY)
    assert (report.rows_loaded, report.rows_quarantined) == (2, 2)
    assert con.execute(
        """select "EventId", "OptOutType", "ErrorCode", send_id from raw.sms_events order by _source_row"""
    ).fetchall() == [("e1", "STOP", None, None), ("e4", None, "30006", "0" * 32 + "|sms")]
    refused = con.execute('select file, row, "column", reason from raw.quarantine order by row').fetchall()
    assert refused == [
        (str(path), 2, "From", "not an E.164 phone number"),
        (str(path), 3, "MessageStatus", "not a Twilio message status"),
    ]


def test_sms_events_are_absent_until_their_first_export_and_required_from_then_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Guards teams without SMS: a required sms_events would fail every day's run for want of a file they
    # never have, and an optional one would hold the exports sensor for its grace period each day. Once
    # a first export landed, a day without one is late or lost (opt-outs unknown), as for email events.
    landing = tmp_path / "landing"
    monkeypatch.setenv("REENGAGE_LANDING", str(landing))
    monkeypatch.delenv("REENGAGE_MISSING_FILE", raising=False)
    monkeypatch.delenv("REENGAGE_SMS_EVENTS_MISSING_FILE", raising=False)
    assert is_absent("sms_events") and not is_absent("email_events")
    assert missing_file_rule("sms_events") == "no_activity"
    assert "sms_events" not in required_sources() and "sms_events" not in expected_sources()
    for source, ext, text in (
        ("customers", "csv", "customer_id\nc1\n"),
        ("events", "csv", "event_id\ne1\n"),
        ("email_events", "jsonl", "{}\n"),
    ):
        (landing / source).mkdir(parents=True, exist_ok=True)
        (landing / source / f"{source}_{DAY}.{ext}").write_text(text)
    exports = scan_day(str(landing), DAY)
    state = DayState()
    evaluate_day(exports, state, now=0.0, grace_seconds=3600)
    ready, note = evaluate_day(exports, state, now=1.0, grace_seconds=3600)
    assert ready, note  # nothing waits for an absent source
    with duckdb.connect() as con:
        assert "  sms_events    no file (absent: never exported)" in exports_summary(con, DAY).splitlines()

    _write(landing, date(2027, 1, 1), [])
    assert not is_absent("sms_events")
    assert missing_file_rule("sms_events") == "required"
    assert "sms_events" in required_sources()

    # Whoever sets the rule expects the export: an explicit setting makes no source absent.
    (landing / "sms_events" / "sms_events_2027-01-01.jsonl").unlink()
    monkeypatch.setenv("REENGAGE_SMS_EVENTS_MISSING_FILE", "no_change")
    assert not is_absent("sms_events") and missing_file_rule("sms_events") == "no_change"


def test_the_settings_file_init_writes_leaves_the_sms_events_rule_unset() -> None:
    # Guards teams without SMS who start from `reengage init`: a rule written into their settings file
    # is an explicit setting, which would make sms_events expected every day from the first one.
    written = tomllib.loads(render_template())
    assert "missing_file" not in written["sources"].get("sms_events", {})
    assert written["sources"]["email_events"]["missing_file"] == "required"
