"""A local HTTP server that speaks enough SendGrid v3 for the pipeline to need no account.

Endpoints: `POST /v3/mail/send`, `POST /v3/mail/batch`, `GET /v3/mail/batch/{id}`,
`GET|POST /v3/user/scheduled_sends`, `GET|PATCH|DELETE /v3/user/scheduled_sends/{id}`,
and the admin endpoints (no auth) `GET|POST|DELETE /__faults` to inject faults and
`GET|POST|DELETE /__storm` to start, read and stop a storm of random faults.

The handler validates like the real API (schema + rules in `validation.py`) and
commits accepted mail, each recipient with the message they receive (substitutions
applied, `rendering.py`), to the store *before* answering 202, so an acknowledged
request is never lost. It logs paths and statuses only, never bodies or keys.
"""

from __future__ import annotations

import gzip
import json
import logging
import re
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reengage_dev.provider_sink.http import (
    ProviderHandler,
    ProviderServer,
    Reply,
    RunningSink,
    serve_in_thread,
)
from reengage_dev.sink.faults import FaultStorm
from reengage_dev.sink.rendering import delivered
from reengage_dev.sink.store import BatchStatusError, Recipient, SinkStore
from reengage_dev.sink.validation import MAX_BODY_BYTES, effective_send_at, validate_mail_send

logger = logging.getLogger(__name__)

_BATCH_PATH = re.compile(r"^/v3/mail/batch/(?P<batch_id>[^/]+)$")
_SCHEDULED_PATH = re.compile(r"^/v3/user/scheduled_sends/(?P<batch_id>[^/]+)$")


def _errors(message: str, field: str | None = None) -> dict[str, Any]:
    return {"errors": [{"message": message, "field": field, "help": None}]}


# A running sink: its base URL (give it to the sendgrid client as `host`), store and faults.
SinkHandle = RunningSink[SinkStore]


class _Handler(ProviderHandler):
    server: ProviderServer
    server_version = "sendgrid-sink/1.0"
    default_fault_path = "/v3/mail/send"

    def authorized(self) -> bool:
        scheme, _, key = (self.headers.get("Authorization") or "").partition(" ")
        key = key.strip()
        return scheme == "Bearer" and key not in ("", "None")

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        if status == 401:
            message = "The provided authorization grant is invalid, expired, or revoked"
        return _errors(message)

    def admin(self, method: str, path: str, raw: bytes) -> Reply | None:
        if path == "/__storm":
            return self._admin_storm(method, raw)
        return super().admin(method, path, raw)

    def _json(self, raw: bytes) -> Any:
        if (self.headers.get("Content-Encoding") or "").lower() == "gzip":
            raw = gzip.decompress(raw)
        return json.loads(raw.decode("utf-8")) if raw else None

    # -- routes --------------------------------------------------------------

    def route(self, method: str, path: str, raw: bytes) -> Reply:
        if path == "/v3/mail/send" and method == "POST":
            return self._mail_send(raw)
        if path == "/v3/mail/batch" and method == "POST":
            batch_id = secrets.token_urlsafe(24).replace("-", "x").replace("_", "y")
            self.server.store.create_batch(batch_id, self.server.clock())
            return Reply(201, {"batch_id": batch_id})
        if (m := _BATCH_PATH.match(path)) and method == "GET":
            if self.server.store.batch_exists(m["batch_id"]):
                return Reply(200, {"batch_id": m["batch_id"]})
            return Reply(400, _errors("invalid batch id", "batch_id"))
        if path == "/v3/user/scheduled_sends":
            if method == "GET":
                return Reply(200, self.server.store.batch_statuses())
            if method == "POST":
                return self._scheduled_create(raw)
        if m := _SCHEDULED_PATH.match(path):
            return self._scheduled_one(method, m["batch_id"], raw)
        return Reply(404, _errors("not found"))

    def _mail_send(self, raw: bytes) -> Reply:
        try:
            body = self._json(raw)
        except (ValueError, OSError):
            return Reply(400, _errors("The request body is not valid JSON.", None))
        now = self.server.clock()
        errors = validate_mail_send(body, now=now, batch_exists=self.server.store.batch_exists)
        if errors:
            return Reply(400, {"errors": [e.as_dict() for e in errors]})
        recipients = _recipients(body)
        sandbox = bool(((body.get("mail_settings") or {}).get("sandbox_mode") or {}).get("enable"))
        x_message_id = secrets.token_urlsafe(16)[:22]
        self.server.store.record_request(x_message_id, body.get("batch_id"), recipients, now, sandbox)
        # SendGrid answers 200 (validated, nothing sent) in sandbox mode and 202 otherwise.
        return Reply(200 if sandbox else 202, None, {"X-Message-Id": x_message_id})

    def _scheduled_create(self, raw: bytes) -> Reply:
        try:
            body = self._json(raw) or {}
        except (ValueError, OSError):
            return Reply(400, _errors("The request body is not valid JSON."))
        batch_id, status = body.get("batch_id"), body.get("status")
        if status not in ("cancel", "pause"):
            return Reply(400, _errors("status must be either cancel or pause", "status"))
        if not isinstance(batch_id, str) or not self.server.store.batch_exists(batch_id):
            return Reply(400, _errors("invalid batch id", "batch_id"))
        return self._logged(batch_id, status, self._scheduled_set(batch_id, status))

    def _scheduled_set(self, batch_id: str, status: str) -> Reply:
        if self.server.store.batch_status(batch_id) is not None:
            return Reply(400, _errors("This batch already has a status; update it with PATCH.", "batch_id"))
        try:
            self.server.store.set_batch_status(batch_id, status, self.server.clock())
        except BatchStatusError as exc:
            return Reply(400, _errors(str(exc), "batch_id"))
        return Reply(201, {"batch_id": batch_id, "status": status})

    def _logged(self, batch_id: str, status: str | None, reply: Reply) -> Reply:
        """Record a cancel/pause/resume and its answer (`SinkStore.status_requests`)."""
        errors = reply.body.get("errors") if isinstance(reply.body, dict) else None
        message = errors[0].get("message") if errors else None
        self.server.store.log_status_request(batch_id, status, reply.status, message, self.server.clock())
        return reply

    def _scheduled_one(self, method: str, batch_id: str, raw: bytes) -> Reply:
        store = self.server.store
        try:
            current = store.batch_status(batch_id)
        except KeyError:
            return Reply(404, _errors("batch id not found", "batch_id"))
        if method == "GET":
            return Reply(200, [{"batch_id": batch_id, "status": current}] if current else [])
        if method not in ("PATCH", "DELETE"):
            return Reply(405, _errors("method not allowed"))
        status: str | None = None
        if method == "PATCH":
            try:
                status = (self._json(raw) or {}).get("status")
            except (ValueError, OSError):
                return Reply(400, _errors("The request body is not valid JSON."))
            if status not in ("cancel", "pause"):
                return Reply(400, _errors("status must be either cancel or pause", "status"))
        if current is None:
            reply = Reply(404, _errors("This batch has no cancel or pause to change.", "batch_id"))
            return self._logged(batch_id, status, reply)
        try:
            store.set_batch_status(batch_id, status, self.server.clock())
        except BatchStatusError as exc:
            return self._logged(batch_id, status, Reply(400, _errors(str(exc), "batch_id")))
        return self._logged(batch_id, status, Reply(204))

    def _admin_storm(self, method: str, raw: bytes) -> Reply:
        """POST starts a storm (options as `FaultStorm`'s, JSON), GET reads it, DELETE stops it."""
        server = self.server
        if method == "POST":
            if server.storm is not None and server.storm.running:
                return Reply(400, _errors("a storm is already running; DELETE it first"))
            try:
                options = json.loads(raw.decode("utf-8") or "{}")
                server.storm = FaultStorm(server.faults, **options)
            except (ValueError, TypeError) as exc:
                return Reply(400, _errors(f"bad storm: {exc}"))
            server.storm.start()
            return Reply(201, server.storm.stats())
        if method in ("GET", "DELETE"):
            if server.storm is None:
                return Reply(404, _errors("no storm was started"))
            if method == "DELETE":
                server.storm.stop()
            return Reply(200, server.storm.stats())
        return Reply(405, _errors("method not allowed"))


def _recipients(body: dict[str, Any]) -> list[Recipient]:
    """Each recipient of a valid body, in request order, with what they receive (rendering.py).

    Recipients of one personalization share its merged args and its message.
    """
    message_args = body.get("custom_args") or {}
    out: list[Recipient] = []
    for p in body["personalizations"]:
        own_args = p.get("custom_args") or {}
        args = {**message_args, **own_args} if message_args else own_args
        when = effective_send_at(body, p)
        message = delivered(body, p)
        for kind in ("to", "cc", "bcc"):
            for recipient in p.get(kind) or ():
                out.append(Recipient(recipient["email"], when, args, message))
    return out


def make_server(
    store_path: str | Path,
    port: int = 0,
    host: str = "127.0.0.1",
    *,
    clock: Callable[[], float] = time.time,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> ProviderServer:
    """Bind (not yet serve) a sink; `port=0` picks a free port."""
    return ProviderServer((host, port), _Handler, SinkStore(store_path), clock, max_body_bytes)


def start_sink(
    store_path: str | Path,
    port: int = 0,
    host: str = "127.0.0.1",
    *,
    clock: Callable[[], float] = time.time,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> SinkHandle:
    """Run a sink in a background daemon thread of this process and return its handle."""
    server = make_server(store_path, port, host, clock=clock, max_body_bytes=max_body_bytes)
    url, thread = serve_in_thread(server, "sendgrid-sink")
    return SinkHandle(url, server.store, server.faults, server, thread)
