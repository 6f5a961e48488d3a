"""The HTTP plumbing every local provider sink shares: routing to a provider's handler, basic
admin endpoints, injected faults, answers in the provider's error shape, and a running handle.

A provider's handler subclasses `ProviderHandler` and says how it authenticates (`authorized`),
what its error bodies look like (`error_body`) and how it routes (`route`). The server logs a
request's method, path (never its query string: Twilio's list filters carry phone numbers) and
status only, never bodies or keys.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Generic, TypeVar
from urllib.parse import urlsplit

from reengage_dev.provider_sink.faults import Fault, FaultInjector

logger = logging.getLogger(__name__)

RATE_LIMIT = 600  # what X-RateLimit-Limit claims on an injected 429


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class ProviderServer(ThreadingHTTPServer):
    """The HTTP server plus the state its handlers share."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[ProviderHandler],
        store: Any,
        clock: Callable[[], float],
        max_body_bytes: int,
    ) -> None:
        super().__init__(address, handler)
        self.store = store
        self.faults = FaultInjector()
        self.clock = clock
        self.max_body_bytes = max_body_bytes
        self.storm: Any = None  # a running FaultStorm (the SendGrid sink's /__storm), stopped on close

    def server_close(self) -> None:
        if self.storm is not None:
            self.storm.stop()
        super().server_close()


class ProviderHandler(BaseHTTPRequestHandler):
    server: ProviderServer
    # Where a fault given without a `path` applies: the provider's send endpoint (a prefix).
    default_fault_path: ClassVar[str]

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        logger.debug("sink: " + format, *args)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """The stdlib logs the whole request line; a query string may hold a phone number."""
        logger.debug("sink: %s %s %s", self.command, urlsplit(self.path).path, code)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # -- what a provider defines ---------------------------------------------

    def authorized(self) -> bool:
        raise NotImplementedError

    def error_body(self, status: int, message: str) -> Any:
        """The provider's error JSON for a plumbing answer (401, 404, 413, 429, 500, ...)."""
        raise NotImplementedError

    def route(self, method: str, path: str, raw: bytes) -> Reply:
        raise NotImplementedError

    def admin(self, method: str, path: str, raw: bytes) -> Reply | None:
        """Endpoints without auth; `/__faults` here, a provider may add its own."""
        if path == "/__faults":
            return self._admin_faults(method, raw)
        return None

    def fault_headers(self, fault: Fault) -> dict[str, str]:
        """Headers of an injected 429: Retry-After and SendGrid-style rate-limit headers."""
        retry_after = int(fault.retry_after if fault.retry_after is not None else 1)
        return {
            "Retry-After": str(retry_after),
            "X-RateLimit-Limit": str(RATE_LIMIT),
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(int(self.server.clock()) + retry_after),
        }

    # -- plumbing ------------------------------------------------------------

    def _dispatch(self, method: str) -> None:
        path = urlsplit(self.path).path.rstrip("/") or "/"
        length = int(self.headers.get("Content-Length") or 0)
        if length > self.server.max_body_bytes:
            self.close_connection = True
            self.reply(Reply(413, self.error_body(413, "content too large")))
            return
        raw = self.rfile.read(length) if length else b""
        admin = self.admin(method, path, raw)
        if admin is not None:
            self.reply(admin)
            return
        if not self.authorized():
            self.reply(Reply(401, self.error_body(401, "Authenticate")))
            return

        fault = self.server.faults.take(method, path)
        if fault is not None and self._fault_answers(fault):
            return
        try:
            reply = self.route(method, path, raw)
        except Exception:  # a sink bug must look like a provider 500, not a hung socket
            logger.exception("sink: unhandled error on %s %s", method, path)
            reply = Reply(500, self.error_body(500, "internal server error"))
        if fault is not None and fault.mode == "drop" and fault.when == "after":
            self._drop()
            return
        self.reply(reply)

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
        message = fault.message or {429: "too many requests", 500: "internal server error"}.get(
            fault.status, "injected fault"
        )
        headers = self.fault_headers(fault) if fault.status == 429 else {}
        self.reply(Reply(fault.status, self.error_body(fault.status, message), headers))
        return True

    def _drop(self) -> None:
        """Close the socket without a byte of answer, as a crashed proxy would."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def reply(self, reply: Reply) -> None:
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

    def _admin_faults(self, method: str, raw: bytes) -> Reply:
        faults = self.server.faults
        if method == "DELETE":
            faults.clear()
            return Reply(204)
        if method == "POST":
            try:
                spec = json.loads(raw.decode("utf-8") or "null")
                specs = spec if isinstance(spec, list) else [spec]
                faults.add(*(self.with_default_path(s) for s in specs))
            except (ValueError, TypeError) as exc:
                return Reply(400, self.error_body(400, f"bad fault: {exc}"))
            return Reply(201, {"pending": faults.pending()})
        if method == "GET":
            return Reply(200, {"pending": faults.pending()})
        return Reply(405, self.error_body(405, "method not allowed"))

    @classmethod
    def with_default_path(cls, spec: Fault | dict[str, Any]) -> Fault | dict[str, Any]:
        """A fault given as JSON without a path applies to the provider's send endpoint."""
        if isinstance(spec, dict) and "path" not in spec:
            return {**spec, "path": cls.default_fault_path}
        return spec


StoreT = TypeVar("StoreT")


@dataclass
class RunningSink(Generic[StoreT]):
    """A sink serving from a background thread: its base URL, store and faults."""

    url: str
    store: StoreT
    faults: FaultInjector
    _server: ProviderServer = field(repr=False)
    _thread: threading.Thread = field(repr=False)

    def inject(self, *specs: Fault | dict[str, Any]) -> None:
        """Queue faults from Python (same shapes as `POST /__faults`; no `path`: the send endpoint)."""
        handler: type[ProviderHandler] = self._server.RequestHandlerClass  # type: ignore[assignment]
        self.faults.add(*(handler.with_default_path(s) for s in specs))

    def stop(self) -> None:
        """Stop serving and release the port; safe to call twice."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=10)
        self._server.server_close()

    def __enter__(self) -> RunningSink[StoreT]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_in_thread(server: ProviderServer, name: str) -> tuple[str, threading.Thread]:
    """Serve `server` from a daemon thread; its base URL and the thread."""
    host, port = server.server_address[:2]
    # A short poll interval makes stop() return promptly (shutdown waits for one poll).
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=name, daemon=True
    )
    thread.start()
    return f"http://{host}:{port}", thread
