"""`reengage ui` starts the Dagster UI on the project: the code location by its own name, the runs of
the command line, and the Data Docs beside it, from any folder, installed or in a checkout."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from reengage import settings
from tests.cli.cli_world import SUITE_SETTINGS

LOCATIONS = "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(url: str, body: bytes | None = None) -> bytes:
    headers = {"Content-Type": "application/json"} if body else {}
    with urllib.request.urlopen(urllib.request.Request(url, data=body, headers=headers), timeout=5) as reply:
        return reply.read()


def _locations(ui: str, deadline: float) -> list[dict]:
    """The UI's code locations once every one has loaded (or the last answer at the deadline)."""
    entries: list[dict] = []
    while time.monotonic() < deadline:
        try:
            answer = json.loads(_get(f"{ui}/graphql", json.dumps({"query": LOCATIONS}).encode()))
            entries = answer["data"]["workspaceOrError"]["locationEntries"]
            if entries and all(entry["loadStatus"] == "LOADED" for entry in entries):
                return entries
        except OSError:
            pass
        time.sleep(1)
    return entries


def test_ui_serves_the_code_location_named_reengage_and_the_data_docs_from_a_project_folder(
    tmp_path: Path,
) -> None:
    # Guards the first minutes of an installed project: the UI was only `python3 dev.py ui` (a
    # checkout's workspace.yaml), and the hint after a run named a workspace file a project folder does
    # not have. `reengage ui` works from the project's folder, keeps runs where `run` and `backfill`
    # keep theirs (with the local instance config: no welcome pop-up) and serves the Data Docs.
    folder = tmp_path / "shop"
    folder.mkdir()
    ui_port, docs_port = _free_port(), _free_port()
    env = {name: value for name, value in os.environ.items() if name not in SUITE_SETTINGS}
    env.pop("DAGSTER_HOME", None)
    env["PYTHONPATH"] = os.pathsep.join([str(settings.REPO_ROOT), env.get("PYTHONPATH", "")])
    env["REENGAGE_HOME"] = str(folder / ".data")
    env["REENGAGE_DATA_DOCS_URL"] = f"http://127.0.0.1:{docs_port}"
    ui = subprocess.Popen(
        [sys.executable, "-m", "reengage.cli", "ui", "--port", str(ui_port)],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        entries = _locations(f"http://127.0.0.1:{ui_port}", time.monotonic() + 180)
        docs = _get(f"http://127.0.0.1:{docs_port}/")
    finally:
        os.killpg(ui.pid, signal.SIGINT)
        try:
            output, _ = ui.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(ui.pid, signal.SIGKILL)
            output, _ = ui.communicate()
    assert entries == [{"name": "reengage", "loadStatus": "LOADED"}], output
    assert docs is not None
    instance = folder / ".data" / "dagster_home"
    assert "enabled: false" in (instance / "dagster.yaml").read_text(), "the local instance config"
    workspace = (instance / "workspace.yaml").read_text()
    assert "reengage.definitions" in workspace and str(folder) in workspace
    assert f"Data Docs at http://127.0.0.1:{docs_port}/" in output
