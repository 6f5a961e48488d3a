"""What the commands share: one-line errors, dates, the landing folder and where the UI is."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from typing import NoReturn

import fsspec

from reengage import settings
from reengage.defs.ingest.contracts import SOURCES

# The Dagster UI `reengage ui` (and `python3 dev.py ui`) serves when REENGAGE_DAGSTER_URL names no other.
LOCAL_UI_URL = "http://127.0.0.1:3000"
# Exit codes: 1 the data or the run failed; 2 the command could not start (usage, settings, lock).
FAILED, CANNOT_START = 1, 2


class CommandError(Exception):
    """A problem the user fixes before the command can do anything, told in one line (exit 2)."""


class OneLineParser(argparse.ArgumentParser):
    """argparse, with a usage mistake told in one line (and exit 2) instead of the usage block."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(CANNOT_START)


def run_date(text: str) -> date:
    """An argparse type: a date written YYYY-MM-DD."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (write it YYYY-MM-DD)") from None


def existing_landing(landing: str, setting: str = "") -> str:
    """`landing` when it is a folder (local or fsspec URL); else CommandError naming what to do."""
    try:
        fs, root = fsspec.core.url_to_fs(landing)
        found = fs.isdir(root)
    except (OSError, ValueError, ImportError) as err:
        raise CommandError(f"cannot open the landing folder {landing}: {err}") from None
    if not found:
        where = f" ({setting})" if setting else ""
        raise CommandError(
            f"no landing folder at {landing}{where}: put the exports in "
            f"<landing>/<source>/<source>_YYYY-MM-DD.csv|jsonl|parquet (sources: {', '.join(SOURCES)})"
            + (f" or set {setting} to the folder that holds them" if setting else "")
        )
    return landing


def configured_landing() -> str:
    """The configured landing folder (REENGAGE_LANDING, else the home's `landing`), which must exist."""
    return existing_landing(settings.landing_dir(), "REENGAGE_LANDING")


def ui_url() -> str:
    return settings.dagster_url() or LOCAL_UI_URL
