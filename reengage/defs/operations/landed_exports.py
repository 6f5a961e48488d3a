"""What has landed for one day, and a fingerprint of exactly those files.

Pure file inspection (no Dagster): the sensor, the schedule and `runs.run_day` all
describe a day's exports the same way, so a run can be tagged with the files it
consumed and no trigger starts a second run on the same files.

A file's version is what the storage says about it without reading it: an ETag or
checksum where the filesystem has one (object stores), else its modification time.
Reading every byte to hash it would make each sensor tick cost as much as the load.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date

import fsspec

from reengage.defs.ingest.contracts import SOURCES
from reengage.defs.ingest.reader import export_name_pattern, list_landing

# What fsspec implementations call a file's version, most specific first.
VERSION_KEYS = (
    *("ETag", "etag", "md5Hash", "crc32c", "checksum"),
    *("mtime", "LastModified", "last_modified", "updated"),
)


@dataclass(frozen=True)
class LandedFile:
    source: str
    name: str
    size: int
    version: str


@dataclass
class DayExports:
    day: date
    files: dict[str, LandedFile] = field(default_factory=dict)  # by source
    problems: list[str] = field(default_factory=list)  # e.g. two files for one source and day

    def missing(self, sources: tuple[str, ...]) -> list[str]:
        return [source for source in sources if source not in self.files]

    @property
    def fingerprint(self) -> str:
        """Names, sizes and versions of the day's files: equal only for the very same files."""
        digest = hashlib.sha256(self.day.isoformat().encode())
        for source in sorted(self.files):
            f = self.files[source]
            digest.update(f"|{source}|{f.name}|{f.size}|{f.version}".encode())
        return digest.hexdigest()[:24]

    def describe(self) -> str:
        return ", ".join(f"{f.name} ({f.size:,} bytes)" for f in self.files.values()) or "no files"


def scan_day(landing: str, day: date) -> DayExports:
    """Every source's export for `day` in the landing folder, with size and version."""
    fs, _ = fsspec.core.url_to_fs(landing)
    exports = DayExports(day=day)
    for source in SOURCES:
        found = list_landing(landing, source, day).day_files
        if len(found) > 1:
            names = ", ".join(path.rsplit("/", 1)[-1] for path in found)
            exports.problems.append(f"{source} for {day}: more than one export ({names}); keep one")
            continue
        if found:
            name = found[0].rsplit("/", 1)[-1]
            try:
                info = fs.info(found[0])
            except FileNotFoundError:  # a symbolic link whose target is gone: ingest refuses it by name
                exports.problems.append(f"{source} for {day}: {name} cannot be read (a dangling link?)")
                continue
            exports.files[source] = LandedFile(
                source=source, name=name, size=int(info.get("size") or 0), version=_version(info)
            )
    return exports


def _version(info: dict) -> str:
    for key in VERSION_KEYS:
        if info.get(key) not in (None, ""):
            return f"{key}={info[key]}"
    return "unknown"


def export_days(landing: str, source: str) -> set[date]:
    """Every day `source` has an export for in the landing folder (by file name; none: empty)."""
    fs, root = fsspec.core.url_to_fs(landing)
    try:
        names = [path.rsplit("/", 1)[-1] for path in fs.ls(f"{root.rstrip('/')}/{source}", detail=False)]
    except FileNotFoundError:
        return set()
    pattern = export_name_pattern(source)
    days = set()
    for match in filter(None, (pattern.fullmatch(name) for name in names)):
        try:
            days.add(date.fromisoformat(match.group(1)))
        except ValueError:  # 2026-02-30: not a day, and list_landing reports the name as misnamed
            continue
    return days
