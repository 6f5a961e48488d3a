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
"""

from __future__ import annotations

import hashlib
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


def status_callbacks(store: TwilioSinkStore, *, as_of: float, outcomes: Outcomes) -> list[dict[str, Any]]:
    """Every status and STOP reply up to `as_of`, oldest first (advancing the store to `as_of` first)."""
    store.advance(as_of, outcomes)
    records: list[dict[str, Any]] = []
    for event in store.status_events():
        if event["at"] > as_of:
            continue
        record = {
            "EventId": _event_id(event["sid"], event["status"]),
            "Timestamp": _iso(event["at"]),
            "AccountSid": event["account_sid"],
            "MessageSid": event["sid"],
            "SmsSid": event["sid"],
            "MessagingServiceSid": event["messaging_service_sid"],
            "From": event["from_number"],
            "To": event["to_number"],
            "MessageStatus": event["status"],
            "SmsStatus": event["status"],
            "ApiVersion": API_VERSION,
        }
        if event["error_code"] is not None:
            record["ErrorCode"] = str(event["error_code"])
        # Twilio posts to the StatusCallback URL: its receiver sees the query the sender put there.
        query = dict(parse_qsl(urlsplit(event["status_callback"] or "").query))
        records.append({**query, **record})
    for reply in store.stop_replies():
        if reply["at"] > as_of:
            continue
        records.append(
            {
                "EventId": _event_id(reply["sid"], "STOP"),
                "Timestamp": _iso(reply["at"]),
                "AccountSid": reply["account_sid"],
                "MessageSid": reply["sid"],
                "SmsSid": reply["sid"],
                "MessagingServiceSid": reply["messaging_service_sid"],
                "From": reply["from_number"],
                "To": reply["to_number"],
                "Body": reply["body"],
                "OptOutType": reply["opt_out_type"],
                "MessageStatus": "received",
                "SmsStatus": "received",
                "ApiVersion": API_VERSION,
            }
        )
    return sorted(records, key=lambda r: (r["Timestamp"], r["To"] or "", r["From"] or "", r["EventId"]))


def export_status_callbacks(
    store: TwilioSinkStore, landing: str | Path, *, as_of: float, outcomes: Outcomes
) -> EventExport:
    """Write the callbacks up to `as_of` into the landing folder's daily files (idempotent)."""
    records = status_callbacks(store, as_of=as_of, outcomes=outcomes)
    return merge_daily(
        records,
        landing,
        SOURCE,
        id_field="EventId",
        unix_time=lambda r: datetime.fromisoformat(r["Timestamp"].replace("Z", "+00:00")).timestamp(),
    )
