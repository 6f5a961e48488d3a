"""dbt's parse of the project, carried from one build to the next, and the builds' own folders.

At the start of a command dbt parses the whole project (a few seconds) unless it finds its previous
parse, `partial_parse.msgpack` in the command's target folder, and nothing that parse depends on has
changed: the project's files (by checksum), dbt_project.yml, the profile's connection, the command
line's --vars and the environment variables read while parsing. dagster-dbt gives every command a
new target folder, seeded from the project's own `target/` where only `dbt parse` writes
(ensure_manifest), so what a build parsed was thrown away with its folder. Here each build's folder
is seeded with the parse the previous build of the same pipeline home left, and its own parse is
kept for the next. dbt still checks the file, so a changed model is parsed again, never trusted
stale.

The folders live under `<REENGAGE_HOME>/dbt/runs/` (dbt's log and artifacts of each build, for a
person looking into one); the newest KEPT_RUNS are kept.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from reengage import settings

STATE_FILE = "partial_parse.msgpack"
KEPT_RUNS = 10


def dbt_home() -> Path:
    return settings.home() / "dbt"


def new_target(name: str) -> Path:
    """A new target folder for one dbt command, holding the parse the last build left (if any)."""
    target = dbt_home() / "runs" / f"{name}-{uuid.uuid4().hex[:7]}"
    target.mkdir(parents=True)
    kept = dbt_home() / STATE_FILE
    if kept.exists():
        shutil.copyfile(kept, target / STATE_FILE)
    return target


def keep(target: Path) -> None:
    """Keep the parse of the command that used `target` for the next build; drop old build folders.

    Replaced in one rename, so a build starting meanwhile copies the old file or the new one, whole.
    """
    parsed = target / STATE_FILE
    if parsed.exists():
        partial = dbt_home() / f".{STATE_FILE}.{uuid.uuid4().hex}"
        shutil.copyfile(parsed, partial)
        os.replace(partial, dbt_home() / STATE_FILE)
    runs = sorted((p for p in target.parent.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
    for old in runs[:-KEPT_RUNS]:
        if old != target:
            shutil.rmtree(old, ignore_errors=True)
