"""Drive headless Chromium over its DevTools protocol, so a test sees a JavaScript app as a person does.

`chromium --dump-dom` returns the page before a single-page app has fetched its data; the
DevTools protocol lets the test wait until the page shows what it should, click, and take a
screenshot of that moment. It needs only Debian's chromium and `websockets` (already locked as a
dependency of the Dagster webserver): no browser download, no driver package.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from websockets.sync.client import ClientConnection, connect

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
]  # fmt: skip
LISTENING = re.compile(r"DevTools listening on (ws://127\.0\.0\.1:(\d+)/\S+)")


class BrowserError(RuntimeError):
    """Chromium did not start, or the page never showed what the test waited for."""


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        # A browser test that cannot run is a failed test, never a skipped one.
        raise BrowserError("Debian's chromium is required (apt-get install -y chromium; dev.py test does it)")
    return path


class Page:
    """One tab: navigate, evaluate JavaScript, click, screenshot."""

    def __init__(self, socket: ClientConnection) -> None:
        self._socket = socket
        self._next_id = 0

    def call(self, method: str, timeout: float = 30.0, **params: Any) -> dict[str, Any]:
        self._next_id += 1
        call_id = self._next_id
        self._socket.send(json.dumps({"id": call_id, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BrowserError(f"no answer to {method} within {timeout:.0f}s")
            message = json.loads(self._socket.recv(timeout=remaining))
            if message.get("id") != call_id:
                continue  # an event we did not subscribe to on purpose
            if "error" in message:
                raise BrowserError(f"{method}: {message['error']}")
            return message.get("result", {})

    def navigate(self, url: str) -> None:
        self.call("Page.navigate", url=url)

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression[:80]}: {result['exceptionDetails'].get('text')}")
        return result["result"].get("value")

    def text(self) -> str:
        """What a person can read on the page (innerText: visible text, not scripts or styles)."""
        return self.evaluate("document.body ? document.body.innerText : ''") or ""

    def click_button(self, label: str) -> bool:
        """Click the first button whose visible text is `label`; False when there is none."""
        return bool(
            self.evaluate(
                "(() => { const b = [...document.querySelectorAll('button')]"
                f".find(e => e.innerText.trim() === {json.dumps(label)});"
                " if (b) { b.click(); return true; } return false; })()"
            )
        )

    def wait_for(self, predicate, timeout: float, what: str, poll: float = 0.5) -> str:
        """Poll the page's text until `predicate(text)` holds; the last text goes into the error."""
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.text()
            if predicate(text):
                return text
            time.sleep(poll)
        raise BrowserError(f"after {timeout:.0f}s the page does not show {what}; it shows:\n{text[:2000]}")

    def screenshot(self, path: Path) -> Path:
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path


@contextmanager
def open_page(profile_dir: Path, width: int = 1600, height: int = 1000) -> Iterator[Page]:
    """Start headless Chromium with a fresh profile and yield its first tab; always stop it."""
    process = subprocess.Popen(
        [chromium_path(), *FLAGS, f"--user-data-dir={profile_dir}", f"--window-size={width},{height}",
         "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        port = _devtools_port(process)
        with connect(_page_socket_url(port), max_size=None, open_timeout=30) as socket:
            page = Page(socket)
            page.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
                      mobile=False)  # fmt: skip
            yield page
    finally:
        # The browser and its renderer, GPU and zygote children: the whole process group.
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=30)
        if process.stderr:
            process.stderr.close()


def _devtools_port(process: subprocess.Popen, timeout: float = 60.0) -> int:
    """Chromium prints its DevTools address on stderr once it listens (port 0 = any free port)."""
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    assert process.stderr is not None
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            if process.poll() is not None:
                break
            continue
        seen.append(line.rstrip())
        match = LISTENING.search(line)
        if match:
            # Keep reading stderr (Chromium logs a lot there) so a full pipe never blocks the browser.
            threading.Thread(target=process.stderr.read, daemon=True).start()
            return int(match.group(2))
    raise BrowserError("chromium did not open its DevTools port:\n" + "\n".join(seen[-20:]))


def _page_socket_url(port: int, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as response:
            targets = json.load(response)
        pages = [t for t in targets if t.get("type") == "page"]
        if pages:
            return pages[0]["webSocketDebuggerUrl"]
        time.sleep(0.2)
    raise BrowserError("chromium opened no tab")
