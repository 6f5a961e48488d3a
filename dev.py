#!/usr/bin/env python3
"""Set up and run the project with nothing but Python 3.11 and pip.

    python3 dev.py demo     # 14 days of the daily job on a demo world that answers its mail
    python3 dev.py test     # the test suite (what CI runs)
    python3 dev.py ui       # the Dagster UI on http://127.0.0.1:3000 (no account: mail and texts
                            # to local sinks) and the Data Docs its quality checks link to on
                            # http://127.0.0.1:3001

The first call creates `.venv` from the pinned `requirements.lock`; later calls
reuse it until the lock, setup.py or a pyproject.toml (the product's or devkit's) changes.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / "bin"
STAMP = VENV / ".reengage-installed"
LOCK = ROOT / "requirements.lock"
# The development package (the demo world and the local sink): installed for the demo and the tests,
# never a dependency of the product.
DEVKIT = ROOT / "devkit"
LOCAL_SINK_URL = "REENGAGE_LOCAL_SINK_URL"  # reengage/settings.py reads both
TWILIO_LOCAL_SINK_URL = "REENGAGE_TWILIO_LOCAL_SINK_URL"


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in COMMANDS:
        print(__doc__)
        return 2
    if sys.version_info[:2] != (3, 11):
        print(f"warning: Python 3.11 is expected, this is {sys.version.split()[0]}", file=sys.stderr)
    bootstrap()
    return COMMANDS[argv[0]](argv[1:])


def bootstrap() -> None:
    """Create or refresh the virtual environment when the pinned inputs changed."""
    wanted = _fingerprint()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    if not (BIN / "python").exists():
        print("Creating .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("Installing pinned dependencies (first run takes a few minutes) ...", flush=True)
    pip = [str(BIN / "python"), "-m", "pip", "install", "--disable-pip-version-check"]
    # pip's own lines (a line per package collected, then the install) show the long first install moving.
    _run([*pip, "-r", str(LOCK)])
    _run([*pip, "-q", "--no-deps", "-e", str(ROOT)])
    _run([*pip, "-q", "--no-deps", "-e", str(DEVKIT)])
    STAMP.write_text(wanted)


def demo(args: list[str]) -> int:
    return _call([str(BIN / "python"), "-m", "reengage_dev.demo", *args])


# pytest-xdist workers (one per core, at most 4) take whole modules (tests/conftest.py groups
# them), so most of the suite's time, Python and dbt running in one process, uses both cores.
PARALLEL = ["-n", "auto", "--maxprocesses", "4"]


def test(args: list[str]) -> int:
    ensure_system_packages()
    return _call([str(BIN / "python"), "-m", "pytest", *PARALLEL, *args])


def ui(args: list[str]) -> int:
    """`reengage ui` (the Dagster UI with the Data Docs beside it), delivering mail and texts to local
    sinks unless an account or another sink is named for them."""
    # Without an account, runs started in the UI deliver to local sinks (the demo's stores), as the
    # demo does: delivery sends to a sink only when REENGAGE_LOCAL_SINK_URL (mail) or
    # REENGAGE_TWILIO_LOCAL_SINK_URL (texts) names it.
    home = Path(os.environ.get("REENGAGE_HOME", ROOT / ".data"))
    home.mkdir(parents=True, exist_ok=True)
    wanted = []
    if not (os.environ.get("SENDGRID_API_KEY") or os.environ.get(LOCAL_SINK_URL)):
        wanted.append(("reengage_dev.sink", "sink.sqlite", LOCAL_SINK_URL, "Mail"))
    if not (os.environ.get("TWILIO_ACCOUNT_SID") or os.environ.get(TWILIO_LOCAL_SINK_URL)):
        wanted.append(("reengage_dev.twilio_sink", "twilio_sink.sqlite", TWILIO_LOCAL_SINK_URL, "Texts"))
    sinks: list[subprocess.Popen] = []
    try:
        for module, store, variable, what in wanted:
            serve = [str(BIN / "python"), "-m", module, "serve", "--store", str(home / store)]
            sink = subprocess.Popen(serve, cwd=ROOT, stdout=subprocess.PIPE, text=True)
            sinks.append(sink)
            url = (sink.stdout.readline() if sink.stdout else "").rpartition(" ")[2].strip()
            if not url:
                print(f"the local sink {module} did not start", file=sys.stderr)
                return 1
            print(f"{what} from runs in the UI go to the local sink at {url} ({variable})", flush=True)
            os.environ[variable] = url
        return _call([str(BIN / "reengage"), "ui", *args])
    finally:
        for sink in sinks:
            sink.terminate()
            sink.wait(timeout=10)


COMMANDS = {"demo": demo, "test": test, "ui": ui}

# Programs some tests drive for real (the report is checked in a real browser), from Debian's packages.
# PostgreSQL is installed and started by scripts/postgres.sh, which its tests call.
SYSTEM_PACKAGES = {"chromium": "chromium"}


def ensure_system_packages() -> None:
    """Install missing system programs with apt when we may (root); otherwise say what is missing."""
    missing = [pkg for program, pkg in SYSTEM_PACKAGES.items() if not shutil.which(program)]
    if not missing:
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        print(f"warning: missing {', '.join(missing)}; tests that need them will fail", file=sys.stderr)
        return
    print(f"Installing {', '.join(missing)} with apt-get ...", flush=True)
    quiet = {"DEBIAN_FRONTEND": "noninteractive", **os.environ}
    subprocess.run(["apt-get", "update", "-qq"], check=False, env=quiet)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], check=False, env=quiet
    )


def _fingerprint() -> str:
    digest = hashlib.sha256()
    for path in (LOCK, ROOT / "pyproject.toml", ROOT / "setup.py", DEVKIT / "pyproject.toml"):
        digest.update(path.read_bytes())
    digest.update(sys.version.encode())
    return digest.hexdigest()


def _run(cmd: list[str]) -> None:
    result = subprocess.run(cmd, cwd=ROOT)
    if result.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}")


def _call(cmd: list[str]) -> int:
    # The demo keeps its runs where `reengage ui` shows them (the instance config is installed there
    # by reengage/local_instance.py).
    os.environ.setdefault("DAGSTER_HOME", str(_dagster_home()))
    return subprocess.run(cmd, cwd=ROOT).returncode


def _dagster_home() -> Path:
    """The product home's Dagster folder, where `reengage run` and `backfill` keep their runs too."""
    return Path(os.environ.get("REENGAGE_HOME", ROOT / ".data")) / "dagster_home"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
