"""Helpers for the operations tests: a real local webhook server and small landing files."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

CUSTOMERS = (
    "customer_id,email,first_name,country,timezone,signup_at,plan,lifetime_value,marketing_consent,"
    "consent_updated_at,updated_at\n"
    "c1,ana@mail.example,Ana,DE,Europe/Berlin,2026-01-01T00:00:00Z,free,10.0,true,"
    "2026-01-01T00:00:00Z,2026-01-01T00:00:00Z\n"
)
EVENTS_HEADER = (
    "event_id,user_id,anonymous_id,event_name,event_ts,page,product_id,category,value,device,channel"
)
EMAIL_EVENTS = '{"email": "ana@mail.example", "event": "delivered", "timestamp": 1767225600}\n'


@dataclass
class Webhook:
    url: str
    posts: list[dict] = field(default_factory=list)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(self.posts) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.posts


def serve(status: int = 200, delay: float = 0.0) -> tuple[ThreadingHTTPServer, Webhook]:
    hook = Webhook(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            time.sleep(delay)
            hook.posts.append(
                {"path": self.path, "type": self.headers.get("Content-Type"), **json.loads(body)}
            )
            self.send_response(status)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    hook.url = f"http://127.0.0.1:{server.server_address[1]}/services/T000/B000/secret-token"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, hook


def land(landing: Path, source: str, day: date, text: str, ext: str = "csv") -> Path:
    folder = landing / source
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{source}_{day.isoformat()}.{ext}"
    path.write_text(text)
    return path


def events_csv(rows: int, day: date) -> str:
    lines = [EVENTS_HEADER]
    lines += [
        f"e{i},c1,,page_view,{day.isoformat()}T08:{i % 60:02d}:00Z,/home,,,,web,organic" for i in range(rows)
    ]
    return "\n".join(lines) + "\n"
