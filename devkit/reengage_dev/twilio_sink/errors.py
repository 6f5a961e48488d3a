"""Twilio's error answers: its REST API's JSON shape (the official client reads it), and the sink's codes.

`{"code": 21211, "message": ..., "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}`;
the official client raises `TwilioRestException` with `.code` and `.status` from it. Messages never
repeat a submitted value (Twilio's own echo the number): a sender keeps the reason in its ledger.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# The codes of Twilio's error dictionary the sink answers with, and what they mean.
AUTHENTICATE = 20003  # 401: missing or empty credentials
NOT_FOUND = 20404  # 404: no such account path or message
TOO_MANY_REQUESTS = 20429  # 429: rate limited
INTERNAL = 20500  # 5xx: an internal error
INVALID_TO = 21211  # 'To' is not a valid phone number
INVALID_FROM = 21212  # 'From' is not a phone number or alphanumeric sender id
NO_BODY = 21602  # no Body (nor MediaUrl or ContentSid)
NO_SENDER = 21603  # neither From nor MessagingServiceSid
NO_TO = 21604  # 'To' missing
INVALID_STATUS_CALLBACK = 21609  # StatusCallback is not an absolute http(s) URL with a valid host
OPTED_OUT = 21610  # the recipient replied STOP: "Attempt to send to unsubscribed recipient"
BODY_TOO_LONG = 21617  # Body over 1,600 characters
INVALID_SERVICE = 21705  # MessagingServiceSid is not MG + 32 hex digits
CANNOT_CANCEL = 30409  # only a scheduled message can be canceled
SEND_AT_MISSING = 35111  # ScheduleType=fixed without SendAt
SEND_AT_OUTSIDE_WINDOW = 35114  # SendAt not more than 300 s and at most 35 days ahead
SEND_AT_INVALID = 35115  # SendAt not an ISO-8601 timestamp
SCHEDULE_NEEDS_SERVICE = 35118  # scheduling without a MessagingServiceSid
BAD_REQUEST = 400  # a parameter the description types or enumerates otherwise (Twilio's generic 400)

_PLUMBING_CODES = {401: AUTHENTICATE, 404: NOT_FOUND, 429: TOO_MANY_REQUESTS}


@dataclass(frozen=True)
class TwilioError(Exception):
    """One refusal, as Twilio answers it."""

    code: int
    message: str
    status: int = 400

    def body(self) -> dict[str, Any]:
        return error_body(self.status, self.message, self.code)


def error_body(status: int, message: str, code: int | None = None) -> dict[str, Any]:
    """Twilio's error JSON; without a code, the dictionary's entry for the HTTP status."""
    if code is None:
        code = _PLUMBING_CODES.get(status, INTERNAL if status >= 500 else status)
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
