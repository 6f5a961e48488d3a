"""A local HTTP server that speaks the part of Twilio's Messages API the SMS sender needs.

    POST /2010-04-01/Accounts/{AccountSid}/Messages.json        create (form-encoded), 201
    GET  /2010-04-01/Accounts/{AccountSid}/Messages.json        list: To, From, DateSent, DateSent<,
                                                                DateSent>, PageSize, Page, PageToken
    GET  /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json  fetch
    POST /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json  Status=canceled (a scheduled one only)

plus `GET|POST|DELETE /__faults` (no auth) to inject faults, as the SendGrid sink takes them
(reengage_dev/provider_sink/faults.py; a fault without a path applies to every Messages POST).
Basic auth with any non-empty user (account or API key SID) and secret; neither is kept.
Requests are checked as Twilio checks them (validation.py) and an accepted one is committed
before the answer. The server advances the store to its clock before every answer.
"""

from __future__ import annotations

import re
import time
from base64 import b64decode
from binascii import Error as Base64Error
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from reengage_dev.provider_sink.http import (
    ProviderHandler,
    ProviderServer,
    Reply,
    RunningSink,
    serve_in_thread,
)
from reengage_dev.twilio_sink import errors
from reengage_dev.twilio_sink.errors import TwilioError, error_body
from reengage_dev.twilio_sink.outcomes import Outcomes
from reengage_dev.twilio_sink.store import CancelRefused, StoredText, TwilioSinkStore
from reengage_dev.twilio_sink.validation import (
    ACCOUNT_SID,
    MAX_PAGE_SIZE,
    MESSAGE_SID,
    validate_cancel,
    validate_create,
)

API_VERSION = "2010-04-01"
MAX_BODY_BYTES = 1024 * 1024
_MESSAGES = re.compile(r"^/2010-04-01/Accounts/(?P<account>[^/]+)/Messages(?:/(?P<sid>[^/]+))?\.json$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class TwilioSinkServer(ProviderServer):
    outcomes: Outcomes


# A running Twilio sink: its base URL (aim the official client there: docs/architecture.md), store, faults.
TwilioSinkHandle = RunningSink[TwilioSinkStore]


def _rfc2822(moment: float | None) -> str | None:
    if moment is None:
        return None
    return datetime.fromtimestamp(moment, tz=UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")


def message_resource(text: StoredText) -> dict[str, Any]:
    """The Message resource as Twilio returns it (`api.v2010.account.message`).

    Twilio returns neither SendAt nor StatusCallback; a scheduled or canceled text reports
    `num_segments` "0" and no `date_sent`, as the description's scheduled examples do.
    """
    uri = f"/{API_VERSION}/Accounts/{text.account_sid}/Messages/{text.sid}"
    went_out = text.status not in ("scheduled", "canceled")
    return {
        "account_sid": text.account_sid,
        "api_version": API_VERSION,
        "body": text.body,
        "date_created": _rfc2822(text.date_created),
        "date_sent": _rfc2822(text.date_sent),
        "date_updated": _rfc2822(text.date_updated),
        "direction": "outbound-api",
        "error_code": text.error_code,
        "error_message": None,
        "from": text.from_,
        "messaging_service_sid": text.messaging_service_sid,
        "num_media": "0",
        "num_segments": str(text.num_segments if went_out else 0),
        "price": None,
        "price_unit": "USD",
        "sid": text.sid,
        "status": text.status,
        "subresource_uris": {"media": f"{uri}/Media.json"},
        "to": text.to,
        "uri": f"{uri}.json",
    }


def _form(raw: bytes) -> dict[str, str]:
    """A form body; a repeated parameter (MediaUrl) keeps its first value, enough for the checks."""
    parsed = parse_qs(raw.decode("utf-8"), keep_blank_values=True)
    return {name: values[0] for name, values in parsed.items()}


def _date_bound(value: str, end_of_day: bool) -> float:
    """A DateSent filter value as unix time: a day (its start or end) or an ISO-8601 instant."""
    if _DAY.match(value):
        start = datetime.fromisoformat(value).replace(tzinfo=UTC).timestamp()
        return start + 86_399.999 if end_of_day else start
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC).timestamp()


class _Handler(ProviderHandler):
    server: TwilioSinkServer
    server_version = "twilio-sink/1.0"
    default_fault_path = f"/{API_VERSION}/Accounts/"

    def authorized(self) -> bool:
        scheme, _, encoded = (self.headers.get("Authorization") or "").partition(" ")
        if scheme != "Basic":
            return False
        try:
            user, _, secret = b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
        except (Base64Error, UnicodeDecodeError):
            return False
        return bool(user) and bool(secret)

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        return error_body(status, message)

    def route(self, method: str, path: str, raw: bytes) -> Reply:
        match = _MESSAGES.match(path)
        if match is None or not ACCOUNT_SID.match(match["account"]):
            return self._not_found(path)
        account, sid = match["account"], match["sid"]
        store, now = self.server.store, self.server.clock()
        store.advance(now, self.server.outcomes)
        try:
            if sid is None and method == "POST":
                message = validate_create(_form(raw), now=now, opted_out=store.opted_out)
                return Reply(201, message_resource(store.create(account, message, now)))
            if sid is None and method == "GET":
                return self._list(account, path)
            if sid is not None and MESSAGE_SID.match(sid) and method in ("GET", "POST"):
                return self._one(method, account, sid, path, raw, now)
        except TwilioError as refusal:
            return Reply(refusal.status, refusal.body())
        if method not in ("GET", "POST"):
            return Reply(405, error_body(405, "Method not allowed"))
        return self._not_found(path)

    def _not_found(self, path: str) -> Reply:
        return Reply(404, error_body(404, f"The requested resource {path} was not found"))

    def _one(self, method: str, account: str, sid: str, path: str, raw: bytes, now: float) -> Reply:
        store = self.server.store
        text = store.get(sid)
        if text is None or text.account_sid != account:
            return self._not_found(path)
        if method == "GET":
            return Reply(200, message_resource(text))
        validate_cancel(_form(raw))
        try:
            return Reply(200, message_resource(store.cancel(sid, now)))
        except CancelRefused:
            raise TwilioError(errors.CANNOT_CANCEL, "This message cannot be canceled.") from None

    def _list(self, account: str, path: str) -> Reply:
        query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query, keep_blank_values=True).items()}
        try:
            size = int(query.get("PageSize", "50"))
            page = int(query.get("Page", "0"))
            token = query.get("PageToken")
            after = int(token.removeprefix("PA")) if token else None
            sent_from = sent_until = None
            if "DateSent" in query:  # a day, also when the client sends a midnight timestamp
                sent_from = _date_bound(query["DateSent"][:10], end_of_day=False)
                sent_until = _date_bound(query["DateSent"][:10], end_of_day=True)
            if "DateSent>" in query:
                sent_from = _date_bound(query["DateSent>"], end_of_day=False)
            if "DateSent<" in query:
                sent_until = _date_bound(query["DateSent<"], end_of_day=True)
        except ValueError:
            raise TwilioError(errors.BAD_REQUEST, "Invalid list parameter") from None
        if not 1 <= size <= MAX_PAGE_SIZE or page < 0:
            raise TwilioError(errors.BAD_REQUEST, f"PageSize must be from 1 to {MAX_PAGE_SIZE}")
        texts, next_after = self.server.store.page(
            account,
            to=query.get("To"),
            from_=query.get("From"),
            sent_from=sent_from,
            sent_until=sent_until,
            after_seq=after,
            limit=size,
        )
        filters = {k: v for k, v in query.items() if k not in ("PageSize", "Page", "PageToken")}

        def uri(page_number: int, token: str | None = None) -> str:
            params = {**filters, "PageSize": size, "Page": page_number}
            if token is not None:
                params["PageToken"] = token
            return f"{path}?{urlencode(params)}"

        start = page * size
        return Reply(
            200,
            {
                "end": start + max(len(texts) - 1, 0),
                "first_page_uri": uri(0),
                "messages": [message_resource(t) for t in texts],
                "next_page_uri": None if next_after is None else uri(page + 1, f"PA{next_after}"),
                "page": page,
                "page_size": size,
                "previous_page_uri": None,
                "start": start,
                "uri": uri(page, token),
            },
        )


def make_server(
    store_path: str | Path,
    port: int = 0,
    host: str = "127.0.0.1",
    *,
    clock: Callable[[], float] = time.time,
    outcomes: Outcomes | None = None,
) -> TwilioSinkServer:
    """Bind (not yet serve) a Twilio sink; `port=0` picks a free port."""
    server = TwilioSinkServer((host, port), _Handler, TwilioSinkStore(store_path), clock, MAX_BODY_BYTES)
    server.outcomes = outcomes or Outcomes()
    return server


def start_twilio_sink(
    store_path: str | Path,
    port: int = 0,
    host: str = "127.0.0.1",
    *,
    clock: Callable[[], float] = time.time,
    outcomes: Outcomes | None = None,
) -> TwilioSinkHandle:
    """Run a Twilio sink in a background daemon thread of this process and return its handle."""
    server = make_server(store_path, port, host, clock=clock, outcomes=outcomes)
    url, thread = serve_in_thread(server, "twilio-sink")
    return TwilioSinkHandle(url, server.store, server.faults, server, thread)
