"""Everything the repository says is readable from the repository alone.

A reader of the docs, the Dagster UI or dbt docs has only this checkout: a citation of a document
kept elsewhere, a path that climbs out of the checkout, or a number of a ticket in some tracker
leaves them with a reference they cannot follow. Meanings live in docs/meanings.md and the docs it
points to; a test or comment says the behaviour it guards in its own words.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Pinned hashes only; nothing in it is prose.
NOT_PROSE = {"requirements.lock"}

# Built from parts so that this file, which is tracked too, does not match itself.
OUTSIDE_REFERENCES = {
    "a design document kept outside the repository": re.compile(rb"DESIGN" + rb"\.md", re.IGNORECASE),
    "a path into a folder beside the checkout": re.compile(rb"\.\./" + rb"shared\b"),
    "a path climbing two folders up": re.compile(rb"\.\./" + rb"\.\./"),
    "a ticket number": re.compile(rb"\bissues?" + rb"\s*#?\d+", re.IGNORECASE),
}


def tracked_files() -> list[str]:
    listing = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    return [name for name in listing.split("\0") if name and name not in NOT_PROSE]


def outside_references(relative: str) -> list[str]:
    path = ROOT / relative
    if not path.is_file():  # deleted in the work tree but still in the index
        return []
    found = []
    for number, line in enumerate(path.read_bytes().splitlines(), start=1):
        for what, pattern in OUTSIDE_REFERENCES.items():
            match = pattern.search(line)
            if match:
                found.append(f"{relative}:{number}: {what} ({match.group().decode(errors='replace')!r})")
    return found


def test_no_tracked_file_refers_to_anything_outside_the_repository() -> None:
    # Guards docs, asset and model descriptions (shown in the Dagster UI and dbt docs), comments and
    # dbt_project.yml citing a design document that was never part of the checkout, pointing at a
    # folder beside it, or naming tickets by number instead of saying what they meant.
    files = tracked_files()
    assert "README.md" in files, "git ls-files did not list the repository"
    found = [reference for relative in files for reference in outside_references(relative)]
    assert not found, "say it here instead of pointing elsewhere:\n" + "\n".join(found)
