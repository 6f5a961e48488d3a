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
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from reengage_dev.sink.faults import Fault, FaultInjector, FaultStorm
from reengage_dev.sink.rendering import delivered
from reengage_dev.sink.store import BatchStatusError, Recipient, SinkStore
from reengage_dev.sink.validation import MAX_BODY_BYTES, effective_send_at, validate_mail_send

logger = logging.getLogger(__name__)

_BATCH_PATH = re.compile(r"^/v3/mail/batch/(?P<batch_id>[^/]+)$")
_SCHEDULED_PATH = re.compile(r"^/v3/user/scheduled_sends/(?P<batch_id>[^/]+)$")
_RATE_LIMIT = 600


def _errors(message: str, field: str | None = None) -> dict[str, Any]:
    return {"errors": [{"message": message, "field": field, "help": None}]}


@dataclass
class _Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class SinkServer(ThreadingHTTPServer):
    """The HTTP server plus the state its handlers share."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        store: SinkStore,
        faults: FaultInjector,
        clock: Callable[[], float],
        max_body_bytes: int,
    ) -> None:
        super().__init__(address, _Handler)
        self.store = store
        self.faults = faults
        self.clock = clock
        self.max_body_bytes = max_body_bytes
        self.storm: FaultStorm | None = None

    def server_close(self) -> None:
        if self.storm is not None:
            self.storm.stop()
        super().server_close()


class _Handler(BaseHTTPRequestHandler):
    server: SinkServer
    server_version = "sendgrid-sink/1.0"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        logger.debug("sink: " + format, *args)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # -- plumbing ------------------------------------------------------------

    def _dispatch(self, method: str) -> None:
        path = urlsplit(self.path).path.rstrip("/") or "/"
        length = int(self.headers.get("Content-Length") or 0)
        if length > self.server.max_body_bytes:
            self.close_connection = True
            self._reply(_Reply(413, _errors("content too large")))
            return
        raw = self.rfile.read(length) if length else b""
        if path == "/__faults":
            self._reply(self._admin_faults(method, raw))
            return
        if path == "/__storm":
            self._reply(self._admin_storm(method, raw))
            return
        if not self._authorized():
            self._reply(
                _Reply(401, _errors("The provided authorization grant is invalid, expired, or revoked"))
            )
            return

        fault = self.server.faults.take(method, path)
        if fault is not None and self._fault_answers(fault):
            return
        try:
            reply = self._route(method, path, raw)
        except Exception:  # a sink bug must look like a provider 500, not a hung socket
            logger.exception("sink: unhandled error on %s %s", method, path)
            reply = _Reply(500, _errors("internal server error"))
        if fault is not None and fault.mode == "drop" and fault.when == "after":
            self._drop()
            return
        self._reply(reply)

    def _authorized(self) -> bool:
        scheme, _, key = (self.headers.get("Authorization") or "").partition(" ")
        key = key.strip()
        return scheme == "Bearer" and key not in ("", "None")

    def _fault_answers(self, fault: Fault) -> bool:
        """Apply a fault; True when it has fully answered (or dropped) the request."""
        if fault.mode == "timeout":
            time.sleep(fault.delay)
            if not fault.store:
                self._drop()
                return True
            return False  # process normally, late: the client has likely given up by now
        if fault.mode == "drop":
            if fault.when == "before":
                self._drop()
                return True
            return False
        assert fault.status is not None
        headers: dict[str, str] = {}
        message = fault.message or {429: "too many requests", 500: "internal server error"}.get(
            fault.status, "injected fault"
        )
        if fault.status == 429:
            retry_after = int(fault.retry_after if fault.retry_after is not None else 1)
            headers = {
                "Retry-After": str(retry_after),
                "X-RateLimit-Limit": str(_RATE_LIMIT),
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": str(int(self.server.clock()) + retry_after),
            }
        self._reply(_Reply(fault.status, _errors(message), headers))
        return True

    def _drop(self) -> None:
        """Close the socket without a byte of answer, as a crashed proxy would."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _reply(self, reply: _Reply) -> None:
        payload = b"" if reply.body is None else json.dumps(reply.body).encode("utf-8")
        try:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if reply.body is not None:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if payload:
                self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            logger.debug("sink: client went away before the answer")

    def _json(self, raw: bytes) -> Any:
        if (self.headers.get("Content-Encoding") or "").lower() == "gzip":
            raw = gzip.decompress(raw)
        return json.loads(raw.decode("utf-8")) if raw else None

    # -- routes --------------------------------------------------------------

    def _route(self, method: str, path: str, raw: bytes) -> _Reply:
        if path == "/v3/mail/send" and method == "POST":
            return self._mail_send(raw)
        if path == "/v3/mail/batch" and method == "POST":
            batch_id = secrets.token_urlsafe(24).replace("-", "x").replace("_", "y")
            self.server.store.create_batch(batch_id, self.server.clock())
            return _Reply(201, {"batch_id": batch_id})
        if (m := _BATCH_PATH.match(path)) and method == "GET":
            if self.server.store.batch_exists(m["batch_id"]):
                return _Reply(200, {"batch_id": m["batch_id"]})
            return _Reply(400, _errors("invalid batch id", "batch_id"))
        if path == "/v3/user/scheduled_sends":
            if method == "GET":
                return _Reply(200, self.server.store.batch_statuses())
            if method == "POST":
                return self._scheduled_create(raw)
        if m := _SCHEDULED_PATH.match(path):
            return self._scheduled_one(method, m["batch_id"], raw)
        return _Reply(404, _errors("not found"))

    def _mail_send(self, raw: bytes) -> _Reply:
        try:
            body = self._json(raw)
        except (ValueError, OSError):
            return _Reply(400, _errors("The request body is not valid JSON.", None))
        now = self.server.clock()
        errors = validate_mail_send(body, now=now, batch_exists=self.server.store.batch_exists)
        if errors:
            return _Reply(400, {"errors": [e.as_dict() for e in errors]})
        recipients = _recipients(body)
        sandbox = bool(((body.get("mail_settings") or {}).get("sandbox_mode") or {}).get("enable"))
        x_message_id = secrets.token_urlsafe(16)[:22]
        self.server.store.record_request(x_message_id, body.get("batch_id"), recipients, now, sandbox)
        # SendGrid answers 200 (validated, nothing sent) in sandbox mode and 202 otherwise.
        return _Reply(200 if sandbox else 202, None, {"X-Message-Id": x_message_id})

    def _scheduled_create(self, raw: bytes) -> _Reply:
        try:
            body = self._json(raw) or {}
        except (ValueError, OSError):
            return _Reply(400, _errors("The request body is not valid JSON."))
        batch_id, status = body.get("batch_id"), body.get("status")
        if status not in ("cancel", "pause"):
            return _Reply(400, _errors("status must be either cancel or pause", "status"))
        if not isinstance(batch_id, str) or not self.server.store.batch_exists(batch_id):
            return _Reply(400, _errors("invalid batch id", "batch_id"))
        return self._logged(batch_id, status, self._scheduled_set(batch_id, status))

    def _scheduled_set(self, batch_id: str, status: str) -> _Reply:
        if self.server.store.batch_status(batch_id) is not None:
            return _Reply(400, _errors("This batch already has a status; update it with PATCH.", "batch_id"))
        try:
            self.server.store.set_batch_status(batch_id, status, self.server.clock())
        except BatchStatusError as exc:
            return _Reply(400, _errors(str(exc), "batch_id"))
        return _Reply(201, {"batch_id": batch_id, "status": status})

    def _logged(self, batch_id: str, status: str | None, reply: _Reply) -> _Reply:
        """Record a cancel/pause/resume and its answer (`SinkStore.status_requests`)."""
        errors = reply.body.get("errors") if isinstance(reply.body, dict) else None
        message = errors[0].get("message") if errors else None
        self.server.store.log_status_request(batch_id, status, reply.status, message, self.server.clock())
        return reply

    def _scheduled_one(self, method: str, batch_id: str, raw: bytes) -> _Reply:
        store = self.server.store
        try:
            current = store.batch_status(batch_id)
        except KeyError:
            return _Reply(404, _errors("batch id not found", "batch_id"))
        if method == "GET":
            return _Reply(200, [{"batch_id": batch_id, "status": current}] if current else [])
        if method not in ("PATCH", "DELETE"):
            return _Reply(405, _errors("method not allowed"))
        status: str | None = None
        if method == "PATCH":
            try:
                status = (self._json(raw) or {}).get("status")
            except (ValueError, OSError):
                return _Reply(400, _errors("The request body is not valid JSON."))
            if status not in ("cancel", "pause"):
                return _Reply(400, _errors("status must be either cancel or pause", "status"))
        if current is None:
            reply = _Reply(404, _errors("This batch has no cancel or pause to change.", "batch_id"))
            return self._logged(batch_id, status, reply)
        try:
            store.set_batch_status(batch_id, status, self.server.clock())
        except BatchStatusError as exc:
            return self._logged(batch_id, status, _Reply(400, _errors(str(exc), "batch_id")))
        return self._logged(batch_id, status, _Reply(204))

    def _admin_storm(self, method: str, raw: bytes) -> _Reply:
        """POST starts a storm (options as `FaultStorm`'s, JSON), GET reads it, DELETE stops it."""
        server = self.server
        if method == "POST":
            if server.storm is not None and server.storm.running:
                return _Reply(400, _errors("a storm is already running; DELETE it first"))
            try:
                options = json.loads(raw.decode("utf-8") or "{}")
                server.storm = FaultStorm(server.faults, **options)
            except (ValueError, TypeError) as exc:
                return _Reply(400, _errors(f"bad storm: {exc}"))
            server.storm.start()
            return _Reply(201, server.storm.stats())
        if method in ("GET", "DELETE"):
            if server.storm is None:
                return _Reply(404, _errors("no storm was started"))
            if method == "DELETE":
                server.storm.stop()
            return _Reply(200, server.storm.stats())
        return _Reply(405, _errors("method not allowed"))

    def _admin_faults(self, method: str, raw: bytes) -> _Reply:
        faults = self.server.faults
        if method == "DELETE":
            faults.clear()
            return _Reply(204)
        if method == "POST":
            try:
                spec = json.loads(raw.decode("utf-8") or "null")
                faults.add(*(spec if isinstance(spec, list) else [spec]))
            except (ValueError, TypeError) as exc:
                return _Reply(400, _errors(f"bad fault: {exc}"))
            return _Reply(201, {"pending": faults.pending()})
        if method == "GET":
            return _Reply(200, {"pending": faults.pending()})
        return _Reply(405, _errors("method not allowed"))


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


@dataclass
class SinkHandle:
    """A running sink: its base URL (give it to the sendgrid client as `host`), store and faults."""

    url: str
    store: SinkStore
    faults: FaultInjector
    _server: SinkServer = field(repr=False)
    _thread: threading.Thread = field(repr=False)

    def inject(self, *specs: Fault | dict[str, Any]) -> None:
        """Queue faults from Python (same shapes as `POST /__faults`)."""
        self.faults.add(*specs)

    def stop(self) -> None:
        """Stop serving and release the port; safe to call twice."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=10)
        self._server.server_close()

    def __enter__(self) -> SinkHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def make_server(
    store_path: str | Path,
    port: int = 0,
    host: str = "127.0.0.1",
    *,
    clock: Callable[[], float] = time.time,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> SinkServer:
    """Bind (not yet serve) a sink; `port=0` picks a free port."""
    return SinkServer((host, port), SinkStore(store_path), FaultInjector(), clock, max_body_bytes)


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
    bound_host, bound_port = server.server_address[:2]
    # A short poll interval makes stop() return promptly (shutdown waits for one poll).
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="sendgrid-sink", daemon=True
    )
    thread.start()
    return SinkHandle(f"http://{bound_host}:{bound_port}", server.store, server.faults, server, thread)
