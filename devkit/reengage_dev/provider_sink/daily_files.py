"""Daily JSON Lines files in the landing folder, merged by record id: how the local sinks export
provider events (SendGrid's Event Webhook records, Twilio's status callbacks) for ingest to read.

`{landing}/{source}/{source}_{YYYY-MM-DD}.jsonl`, one file per UTC day of a record's time.
Writing merges with the day's existing file and skips records whose id is already there, so a
rerun neither loses earlier records nor duplicates its own; a local file is replaced atomically.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fsspec
from fsspec.implementations.local import LocalFileSystem


@dataclass(frozen=True)
class EventExport:
    """What an export wrote: file paths and how many new records went in."""

    paths: list[str]
    written: int
    skipped_existing: int


def _day(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=UTC).date().isoformat()


def _write_atomically(fs: fsspec.AbstractFileSystem, path: str, data: bytes) -> None:
    """Local files are replaced atomically (no half-written file); other filesystems overwrite."""
    if isinstance(fs, LocalFileSystem):
        folder = os.path.dirname(path)
        os.makedirs(folder, exist_ok=True)
        with tempfile.NamedTemporaryFile("wb", dir=folder, delete=False, suffix=".tmp") as tmp:
            tmp.write(data)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp.name, path)
        return
    with fs.open(path, "wb") as handle:
        handle.write(data)


def merge_daily(
    records: Iterable[dict[str, Any]],
    landing: str | Path,
    source: str,
    *,
    id_field: str,
    unix_time: Callable[[dict[str, Any]], float],
    days: Iterable[str] = (),
) -> EventExport:
    """Merge records into the landing folder's daily files of `source`, by `id_field`.

    `days` (YYYY-MM-DD): days whose file is written, empty, when it does not exist and no record
    falls on it: an export that ran and had nothing to report.
    """
    fs, root = fsspec.core.url_to_fs(str(landing))
    by_day: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for day in days:
        by_day[day] = []
    for record in records:
        by_day[_day(unix_time(record))].append(record)
    paths: list[str] = []
    written = skipped = 0
    for day, day_records in sorted(by_day.items()):
        path = f"{root.rstrip('/')}/{source}/{source}_{day}.jsonl"
        existing = b""
        if fs.exists(path):
            with fs.open(path, "rb") as handle:
                existing = handle.read()
        known: set[str] = set()
        for line in existing.decode("utf-8", errors="replace").splitlines():
            try:
                known.add(str(json.loads(line).get(id_field)))
            except (ValueError, AttributeError):
                continue  # a malformed line is ingest's to quarantine; keep it untouched
        new = [r for r in day_records if r[id_field] not in known]
        skipped += len(day_records) - len(new)
        if not new and (day_records or fs.exists(path)):
            continue
        if existing and not existing.endswith(b"\n"):
            existing += b"\n"
        lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in new).encode("utf-8")
        fs.makedirs(os.path.dirname(path), exist_ok=True)
        _write_atomically(fs, path, existing + lines)
        written += len(new)
        paths.append(path)
    return EventExport(paths=paths, written=written, skipped_existing=skipped)
