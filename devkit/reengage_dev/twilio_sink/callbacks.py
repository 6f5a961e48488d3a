"""Status-callback records for the texts the sink handled, as a daily export a later ingest reads.

Each status a text took becomes one record shaped as Twilio's status callback carries it
(`MessageSid`, `SmsSid`, `AccountSid`, `MessagingServiceSid`, `From`, `To`, `MessageStatus`,
`SmsStatus`, `ErrorCode` on undelivered and failed, `ApiVersion`), with the time it happened
(`Timestamp`, ISO-8601 UTC), a stable `EventId`, and the parameters of the query string of the
message's StatusCallback URL at the top level beside them (Twilio posts each callback to that URL,
so its receiver sees what the sender put there, e.g. `send_id`; a receiver exports them flat, as
SendGrid's custom args are, and a parameter never replaces one of Twilio's fields). A STOP reply
is an inbound record with `OptOutType` STOP, `Body` STOP and the replying number in `From`. Files:
`{landing}/sms_events/sms_events_{YYYY-MM-DD}.jsonl` per UTC day, merged by `EventId`
(reengage_dev/provider_sink/daily_files.py), so a rerun neither loses nor repeats a record.
The demo world builds its own texts' records with the same functions (`status_record`,
`stop_record`) and writes them with `write_sms_events`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from reengage_dev.provider_sink.daily_files import EventExport, merge_daily
from reengage_dev.twilio_sink.outcomes import Outcomes
from reengage_dev.twilio_sink.server import API_VERSION
from reengage_dev.twilio_sink.store import TwilioSinkStore

SOURCE = "sms_events"


def _event_id(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, tz=UTC).isoformat().replace("+00:00", "Z")


def status_record(
    *,
    sid: str,
    status: str,
    at: float,
    account_sid: str,
    from_number: str | None,
    to_number: str | None,
    messaging_service_sid: str | None,
    status_callback: str | None,
    error_code: int | None = None,
) -> dict[str, Any]:
    """One status a text took, as its status callback carries it (see the module docstring)."""
    record = {
        "EventId": _event_id(sid, status),
        "Timestamp": _iso(at),
        "AccountSid": account_sid,
        "MessageSid": sid,
        "SmsSid": sid,
        "MessagingServiceSid": messaging_service_sid,
        "From": from_number,
        "To": to_number,
        "MessageStatus": status,
        "SmsStatus": status,
        "ApiVersion": API_VERSION,
    }
    if error_code is not None:
        record["ErrorCode"] = str(error_code)
    # Twilio posts to the StatusCallback URL: its receiver sees the query the sender put there.
    query = dict(parse_qsl(urlsplit(status_callback or "").query))
    return {**query, **record}


def stop_record(
    *,
    sid: str,
    at: float,
    account_sid: str,
    from_number: str,
    to_number: str | None,
    messaging_service_sid: str | None,
    body: str = "STOP",
    opt_out_type: str = "STOP",
) -> dict[str, Any]:
    """An inbound STOP reply; `from_number` is the recipient who replied."""
    return {
        "EventId": _event_id(sid, "STOP"),
        "Timestamp": _iso(at),
        "AccountSid": account_sid,
        "MessageSid": sid,
        "SmsSid": sid,
        "MessagingServiceSid": messaging_service_sid,
        "From": from_number,
        "To": to_number,
        "Body": body,
        "OptOutType": opt_out_type,
        "MessageStatus": "received",
        "SmsStatus": "received",
        "ApiVersion": API_VERSION,
    }


def in_export_order(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Oldest first; ties by number and id, so the same records always give the same file."""
    return sorted(records, key=lambda r: (r["Timestamp"], r["To"] or "", r["From"] or "", r["EventId"]))


def status_callbacks(store: TwilioSinkStore, *, as_of: float, outcomes: Outcomes) -> list[dict[str, Any]]:
    """Every status and STOP reply up to `as_of`, oldest first (advancing the store to `as_of` first)."""
    store.advance(as_of, outcomes)
    records = [
        status_record(
            sid=event["sid"],
            status=event["status"],
            at=event["at"],
            account_sid=event["account_sid"],
            from_number=event["from_number"],
            to_number=event["to_number"],
            messaging_service_sid=event["messaging_service_sid"],
            status_callback=event["status_callback"],
            error_code=event["error_code"],
        )
        for event in store.status_events()
        if event["at"] <= as_of
    ]
    records += [
        stop_record(
            sid=reply["sid"],
            at=reply["at"],
            account_sid=reply["account_sid"],
            from_number=reply["from_number"],
            to_number=reply["to_number"],
            messaging_service_sid=reply["messaging_service_sid"],
            body=reply["body"],
            opt_out_type=reply["opt_out_type"],
        )
        for reply in store.stop_replies()
        if reply["at"] <= as_of
    ]
    return in_export_order(records)


def _record_time(record: dict[str, Any]) -> float:
    return datetime.fromisoformat(record["Timestamp"].replace("Z", "+00:00")).timestamp()


def write_sms_events(
    records: list[dict[str, Any]],
    landing: str | Path,
    *,
    arrives: Callable[[dict[str, Any]], float] = _record_time,
    days: Iterable[str] = (),
) -> EventExport:
    """Merge records into the landing folder's daily sms_events files (idempotent).

    `arrives`: the unix time whose UTC day's file takes a record (by default its own time; a
    receiver that exports late files it on a later day). `days`: days whose file is written even
    without a new record, so an export that had nothing to say is there all the same.
    """
    return merge_daily(records, landing, SOURCE, id_field="EventId", unix_time=arrives, days=days)


def export_status_callbacks(
    store: TwilioSinkStore, landing: str | Path, *, as_of: float, outcomes: Outcomes
) -> EventExport:
    """Write the callbacks up to `as_of` into the landing folder's daily files (idempotent)."""
    return write_sms_events(status_callbacks(store, as_of=as_of, outcomes=outcomes), landing)
