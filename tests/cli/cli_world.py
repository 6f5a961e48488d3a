"""What the command line tests share: a small generated world, and the command run in-process."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import pytest

from orchestration.cli import main
from reengage_dev.demo.world import generate_world

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
