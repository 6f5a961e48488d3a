"""Check a Messages request the way Twilio does, and say why in Twilio's codes.

The parameters, types, patterns and enumerations are those of Twilio's OpenAPI description of the
2010-04-01 API (twilio/twilio-oai, spec/json/twilio_api_v2010.json: `CreateMessageRequest`,
`UpdateMessageRequest`, the list's query parameters and the `message_enum_*` schemas), written
here as the rules the sink enforces. The rules the description cannot express come from Twilio's
error dictionary: a body needs Body, MediaUrl or ContentSid (21602) of at most 1,600 characters
(21617), a sender (21603), a scheduled message a Messaging Service (35118), ScheduleType=fixed a
SendAt (35111) more than 300 s and at most 35 days ahead (35114), and no text to a number that
replied STOP (21610). Twilio ignores parameters it does not know, and so does the sink. A request
gets the first refusal that applies, as Twilio answers one error at a time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from reengage.phones import VALID_NUMBER
from reengage_dev.twilio_sink import errors
from reengage_dev.twilio_sink.errors import TwilioError

MAX_BODY_CHARACTERS = 1600
MIN_SCHEDULE_AHEAD_SECONDS = 300  # SendAt must be *more* than this ahead
MAX_SCHEDULE_AHEAD_SECONDS = 35 * 86_400  # and at most this
MAX_VALIDITY_PERIOD = 36_000
MAX_PAGE_SIZE = 1000

ACCOUNT_SID = re.compile(r"^AC[0-9a-fA-F]{32}$")
MESSAGE_SID = re.compile(r"^(SM|MM)[0-9a-fA-F]{32}$")
SERVICE_SID = re.compile(r"^MG[0-9a-fA-F]{32}$")
_PHONE = re.compile(VALID_NUMBER)
# An alphanumeric sender id: up to 11 letters, digits and spaces, at least one letter.
_ALPHANUMERIC_SENDER = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$")

# CreateMessageRequest's typed parameters (besides To, From, MessagingServiceSid, Body, SendAt).
_ENUMS: dict[str, tuple[str, ...]] = {
    "ScheduleType": ("fixed",),
    "ContentRetention": ("retain", "discard"),
    "AddressRetention": ("retain", "obfuscate"),
    "TrafficType": ("free",),
    "RiskCheck": ("enable", "disable"),
}
_BOOLEANS = ("ProvideFeedback", "ForceDelivery", "SmartEncoded", "ShortenUrls", "SendAsMms")
_INTEGERS = ("Attempt", "ValidityPeriod")
_PATTERNS = {
    "ApplicationSid": re.compile(r"^AP[0-9a-fA-F]{32}$"),
    "ContentSid": re.compile(r"^HX[0-9a-fA-F]{32}$"),
}


@dataclass(frozen=True)
class NewMessage:
    """An accepted create request, as the store keeps it."""

    to: str
    from_: str | None
    messaging_service_sid: str | None
    body: str
    send_at: float | None  # set only for a scheduled message
    status_callback: str | None
    validity_period: int | None


def _invalid(parameter: str, why: str) -> TwilioError:
    return TwilioError(errors.BAD_REQUEST, f"Invalid parameter {parameter}: {why}")


def _check_typed(form: Mapping[str, str]) -> None:
    for name, allowed in _ENUMS.items():
        if name in form and form[name] not in allowed:
            raise _invalid(name, f"must be one of {', '.join(allowed)}")
    for name in _BOOLEANS:
        if name in form and form[name].lower() not in ("true", "false"):
            raise _invalid(name, "must be true or false")
    for name in _INTEGERS:
        if name in form and not re.fullmatch(r"-?[0-9]+", form[name]):
            raise _invalid(name, "must be an integer")
    if "MaxPrice" in form:
        try:
            float(form["MaxPrice"])
        except ValueError:
            raise _invalid("MaxPrice", "must be a number") from None
    for name, pattern in _PATTERNS.items():
        if name in form and not pattern.match(form[name]):
            raise _invalid(name, "is not a valid SID")
    if "ValidityPeriod" in form and not 1 <= int(form["ValidityPeriod"]) <= MAX_VALIDITY_PERIOD:
        raise _invalid("ValidityPeriod", f"must be from 1 to {MAX_VALIDITY_PERIOD}")


def _valid_callback(url: str) -> bool:
    """An absolute http(s) URL with a host name; Twilio refuses underscores in the host."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    return parts.scheme in ("http", "https") and bool(host) and "_" not in host


def parse_send_at(value: str) -> float:
    """SendAt as unix time: ISO-8601 with a zone (`Z` or an offset); ValueError otherwise."""
    moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("SendAt needs a time zone")
    return moment.astimezone(UTC).timestamp()


def validate_create(form: Mapping[str, str], *, now: float, opted_out: Callable[[str], bool]) -> NewMessage:
    """The message a create request stands for, or the TwilioError Twilio would answer."""
    to = form.get("To", "")
    if not to:
        raise TwilioError(errors.NO_TO, "A 'To' phone number is required.")
    if not _PHONE.match(to):
        raise TwilioError(errors.INVALID_TO, "The 'To' number is not a valid phone number.")
    sender, service = form.get("From") or None, form.get("MessagingServiceSid") or None
    if sender is None and service is None:
        raise TwilioError(
            errors.NO_SENDER, "A 'From' or 'MessagingServiceSid' parameter is required to send a message."
        )
    if service is not None and not SERVICE_SID.match(service):
        raise TwilioError(errors.INVALID_SERVICE, "The Messaging Service is invalid.")
    if sender is not None and not (_PHONE.match(sender) or _ALPHANUMERIC_SENDER.match(sender)):
        raise TwilioError(errors.INVALID_FROM, "The 'From' number is not a valid phone number or sender id.")
    body = form.get("Body", "")
    if not body and not form.get("MediaUrl") and not form.get("ContentSid"):
        raise TwilioError(errors.NO_BODY, "Message body is required.")
    if len(body) > MAX_BODY_CHARACTERS:
        raise TwilioError(
            errors.BODY_TOO_LONG, "The concatenated message body exceeds the 1600 character limit."
        )
    _check_typed(form)
    callback = form.get("StatusCallback") or None
    if callback is not None and not _valid_callback(callback):
        raise TwilioError(errors.INVALID_STATUS_CALLBACK, "The StatusCallback URL is not valid.")
    send_at = _scheduled_time(form, service, now)
    if opted_out(to):
        raise TwilioError(errors.OPTED_OUT, "Attempt to send to unsubscribed recipient")
    validity = form.get("ValidityPeriod")
    return NewMessage(to, sender, service, body, send_at, callback, int(validity) if validity else None)


def _scheduled_time(form: Mapping[str, str], service: str | None, now: float) -> float | None:
    """SendAt of a scheduled message; None when the message goes out now.

    Only ScheduleType=fixed schedules (the description: "in conjunction with" SendAt); the sink
    takes a SendAt alone as no schedule and sends the message at once.
    """
    if form.get("ScheduleType") != "fixed":
        return None
    raw = form.get("SendAt", "")
    if not raw:
        raise TwilioError(errors.SEND_AT_MISSING, "SendAt timestamp is missing.")
    if service is None:
        raise TwilioError(
            errors.SCHEDULE_NEEDS_SERVICE, "MessagingServiceSid is required to schedule a message."
        )
    try:
        send_at = parse_send_at(raw)
    except ValueError:
        raise TwilioError(
            errors.SEND_AT_INVALID, "Scheduling does not support this timestamp: use ISO-8601 in UTC."
        ) from None
    if not now + MIN_SCHEDULE_AHEAD_SECONDS < send_at <= now + MAX_SCHEDULE_AHEAD_SECONDS:
        raise TwilioError(
            errors.SEND_AT_OUTSIDE_WINDOW,
            "SendAt time must be more than 300 seconds and at most 35 days (3024000 seconds) in the future.",
        )
    return send_at


def validate_cancel(form: Mapping[str, str]) -> None:
    """UpdateMessageRequest as the sink supports it: `Status=canceled` (the enum's one value)."""
    if form.get("Status") != "canceled":
        raise _invalid("Status", "must be canceled")
