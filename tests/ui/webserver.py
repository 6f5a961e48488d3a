"""Start the Dagster webserver on a free localhost port for a test, and always stop it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
WEBSERVER = Path(sys.executable).with_name("dagster-webserver")
LOCATION_STATUS = (
    "{ workspaceOrError { __typename ... on Workspace { locationEntries { name loadStatus "
    "locationOrLoadError { __typename ... on PythonError { message } } } } } }"
)


@dataclass(frozen=True)
class Webserver:
    url: str
    log: Path

    def graphql(self, query: str) -> dict[str, Any]:
        request = urllib.request.Request(
            f"{self.url}/graphql",
            data=json.dumps({"query": query}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            body = json.load(response)
        if body.get("errors"):
            raise AssertionError(f"GraphQL errors: {body['errors']}")
        return body["data"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_webserver(dagster_home: Path, reengage_home: Path, timeout: float = 300.0) -> Iterator[Webserver]:
    """`dagster-webserver -w workspace.yaml` in its own process group, ready once the code location loaded."""
    port = free_port()
    log = dagster_home / "webserver.log"
    env = {**os.environ, "DAGSTER_HOME": str(dagster_home), "REENGAGE_HOME": str(reengage_home)}
    with log.open("w") as out:
        process = subprocess.Popen(
            [str(WEBSERVER), "-w", str(ROOT / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(port)],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    server = Webserver(url=f"http://127.0.0.1:{port}", log=log)
    try:
        _wait_until_loaded(server, process, timeout)
        yield server
    finally:
        _stop(process)


def _wait_until_loaded(server: Webserver, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"dagster-webserver exited ({process.returncode}):\n{_tail(server.log)}")
        try:
            entries = server.graphql(LOCATION_STATUS)["workspaceOrError"]["locationEntries"]
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            last = repr(exc)
        else:
            last = json.dumps(entries)
            if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                errors = [e for e in entries if e["locationOrLoadError"]["__typename"] == "PythonError"]
                if errors:
                    raise AssertionError(f"the code location failed to load: {errors}")
                return
        time.sleep(1)
    raise AssertionError(f"dagster-webserver not ready after {timeout:.0f}s ({last}):\n{_tail(server.log)}")


def _stop(process: subprocess.Popen) -> None:
    """Stop the whole process group (the webserver and its code-location subprocess)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
    try:  # children that outlived the leader
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""
