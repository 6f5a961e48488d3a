"""What the command line tests share: small worlds, and the command run in-process or as a team runs it."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from reengage import settings
from reengage.cli import main
from reengage_dev.demo.world import generate_world
from tests.format_samples import FORMAT_SAMPLES, SAMPLES

DAY = date(2026, 3, 10)


def world(home: Path, days: int = 3, customers: int = 60, end: date = DAY) -> Path:
    """A clean world of `days` days ending `end` (CSV customers, Parquet events, JSON Lines email
    events); returns its landing folder."""
    generate_world(home, customers=customers, days=days, end_date=end, seed=3, dirty_share=0.0)
    return home / "landing"


def reengage(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """`reengage argv...` through the command line's own entry point: (exit code, stdout, stderr)."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def file_digests(folder: Path) -> dict[str, str]:
    """Every file and folder under `folder` with a digest of its bytes (folders: '')."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
        for path in sorted(folder.rglob("*"))
    }


# What a team's own shell has: none of the suite's settings (tests/conftest.py names a first day and
# no settings file), so its reengage.toml in the working directory decides, as the README says.
SUITE_SETTINGS = ("REENGAGE_FIRST_DAY", "REENGAGE_SETTINGS", "REENGAGE_HOME", "REENGAGE_LANDING")


def reengage_in(folder: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """`reengage argv...` as a team runs it: a process of its own (`python -m reengage.cli`, what
    the console script runs) in `folder`, which holds the team's reengage.toml."""
    env = {name: value for name, value in os.environ.items() if name not in SUITE_SETTINGS}
    env["PYTHONPATH"] = os.pathsep.join([str(settings.REPO_ROOT), env.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-m", "reengage.cli", *argv],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def edit_settings(path: Path, table: str, values: dict[str, str]) -> None:
    """Edit the file `reengage init` wrote as a person would: in `[table]` ("" for the top), the line of
    each key (set, or commented out as unset) becomes `key = value`."""
    lines = path.read_text().splitlines()
    start = 0 if not table else lines.index(f"[{table}]") + 1
    end = next((n for n in range(start, len(lines)) if lines[n].startswith("[")), len(lines))
    for key, value in values.items():
        found = [n for n in range(start, end) if lines[n].split("=")[0].strip("# ") == key]
        assert len(found) == 1, f"{path.name} has no single {key!r} in [{table}] to edit"
        lines[found[0]] = f"{key} = {value}"
    path.write_text("\n".join(lines) + "\n")


def vendor_team(folder: Path, fmt: str) -> tuple[date, str]:
    """A team whose events are `fmt`'s sample, set up as README and docs/formats.md say: the settings
    file `reengage init` writes (home and landing beside it; no mail sent yet, so a day without email
    events had none), the day's CRM export, and the events export with its format declared.
    Returns the day and the events file's name."""
    done = reengage_in(folder, "init")
    assert done.returncode == 0, done.stderr
    edit_settings(folder / "reengage.toml", "", {"home": '"home"', "landing": '"landing"'})
    edit_settings(folder / "reengage.toml", "sources.email_events", {"missing_file": '"no_activity"'})
    sample, day = FORMAT_SAMPLES[fmt]
    (folder / "landing" / "customers").mkdir(parents=True)
    (folder / "landing" / "customers" / f"customers_{day}.csv").write_text(
        "customer_id,email,first_name,country,timezone,signup_at,plan,lifetime_value,marketing_consent,"
        "consent_updated_at,updated_at\n"
        f"c-1,ann.lee@example.com,Ann,DE,Europe/Berlin,2010-05-01T09:00:00Z,free,0,true,"
        f"2010-05-01T09:00:00Z,{day}T06:00:00Z\n"
    )
    events = folder / "landing" / "events"
    events.mkdir()
    name = f"events_{day}{Path(sample).suffix}"
    shutil.copyfile(SAMPLES / fmt / sample, events / name)
    (events / "format.yml").write_text(f"format: {fmt}\n")
    return day, name
