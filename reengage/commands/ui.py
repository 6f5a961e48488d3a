"""`reengage ui [dagster dev options]`: the Dagster UI on this project, with the Data Docs beside it.

It keeps its runs where `run`, `backfill` and the demo keep theirs (`local_instance.py`), so their
runs show on the jobs' pages, loads the code location by its own name from the folder it is started
in (where `reengage.toml` is found), installed or in a checkout, and serves the Data Docs site at
the `data_docs.url` setting in the same process, so the quality checks' links open from the UI.
`--host` and `--port` are the UI's (`dagster dev`'s, default 127.0.0.1:3000).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from reengage.commands.common import CommandError
from reengage.commands.docs import open_site
from reengage.local_instance import local_dagster_home, write_workspace


def add_ui_parser(commands: argparse._SubParsersAction) -> None:
    ui = commands.add_parser(
        "ui",
        help="start the Dagster UI on this project (and serve the Data Docs beside it)",
        description="Start `dagster dev` on the product's code location, keeping runs where the "
        "command line and the demo keep theirs, and serve the Data Docs site the checks link to.",
    )
    ui.add_argument("--host", default="127.0.0.1", help="the UI's address (default 127.0.0.1)")
    ui.add_argument("--port", type=int, default=3000, help="the UI's port (default 3000)")


def run_ui(args: argparse.Namespace) -> int:
    dagster_home = local_dagster_home()
    workspace = write_workspace(Path.cwd())
    serve_data_docs()
    print(f"Runs are kept in {dagster_home}; stop the UI with Ctrl+C", flush=True)
    command = [
        sys.executable,
        "-m",
        "dagster",
        "dev",
        "-w",
        str(workspace),
        "-h",
        args.host,
        "-p",
        str(args.port),
    ]
    # `dagster dev` works installed or in a checkout (`dg dev` needs the checkout's pyproject.toml);
    # its notice that `dg dev` supersedes it is not the user's to act on.
    quiet = "ignore:Function `dev_command` is superseded"
    warnings = ",".join(filter(None, [os.environ.get("PYTHONWARNINGS"), quiet]))
    env = {**os.environ, "DAGSTER_HOME": str(dagster_home), "PYTHONWARNINGS": warnings}
    ui = subprocess.Popen(command, env=env)
    # Stopped by a service manager (SIGTERM) as by Ctrl+C: `dagster dev` stops its webserver and
    # daemon on SIGINT, so none outlives the command.
    signal.signal(signal.SIGTERM, lambda *_: ui.send_signal(signal.SIGINT))
    try:
        return ui.wait()
    except KeyboardInterrupt:  # the terminal sent SIGINT to `dagster dev` too
        return ui.wait()


def serve_data_docs() -> None:
    """The Data Docs site in a background thread; when its address is taken, the UI still starts."""
    try:
        _, server, url = open_site(None, None)
    except CommandError as err:
        print(f"Data Docs are not served ({err}); the checks' links will not open", flush=True)
        return
    threading.Thread(target=server.serve_forever, name="data-docs", daemon=True).start()
    print(f"Data Docs at {url}/", flush=True)
