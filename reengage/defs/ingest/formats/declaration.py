"""Which format a landing folder's exports of one source are in: `{landing}/{source}/format.yml`.

No file: the project's own contract. Otherwise the file names a format of EVENT_FORMATS (only
the events source reads vendor formats) and may override its mapping: which fields feed a
canonical column, how the time is written, what a vendor event name means. A file that
cannot be followed is refused with its name and the reason, before any export is read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

import fsspec
import yaml

from reengage.defs.ingest.contracts import EVENTS
from reengage.defs.ingest.formats import EVENT_FORMATS, OWN_FORMAT
from reengage.defs.ingest.formats.spec import TIMESTAMP_KINDS, EventFormat, HashOf, Source, TimestampKind
from reengage.defs.ingest.reader import DECLARATION_FILE, IngestError

KEYS = ("format", "columns", "event_ts", "event_names")


@dataclass(frozen=True)
class DeclaredFormat:
    format: EventFormat  # with the folder's overrides
    file: str  # the declaration, as messages name it (`events/format.yml`)


def declared_format(landing: str, source: str) -> DeclaredFormat | None:
    """The format `source`'s folder declares, or None for the project's own contract."""
    fs, root = fsspec.core.url_to_fs(landing)
    shown = f"{source}/{DECLARATION_FILE}"
    try:
        raw = fs.cat_file(f"{root.rstrip('/')}/{shown}")
    except (FileNotFoundError, IsADirectoryError):
        return None
    try:
        document = yaml.safe_load(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise IngestError(f"{shown}: not UTF-8 text") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise IngestError(f"{shown}: {where}not valid YAML") from None
    return read_declaration(document, source, shown)


def read_declaration(document: object, source: str, shown: str) -> DeclaredFormat | None:
    if not isinstance(document, dict):
        raise IngestError(f"{shown}: expected keys {', '.join(KEYS)}; `format` names the export format")
    unknown = [str(key) for key in document if key not in KEYS]
    if unknown:
        raise IngestError(f"{shown}: unknown key {unknown[0]!r} (expected {', '.join(KEYS)})")
    name = document.get("format")
    known = [OWN_FORMAT, *EVENT_FORMATS]
    if name not in known:
        raise IngestError(f"{shown}: format {name!r} is not one of {', '.join(known)}")
    overrides = [key for key in KEYS[1:] if key in document]
    if name == OWN_FORMAT:
        if overrides:
            raise IngestError(
                f"{shown}: `{overrides[0]}` overrides a vendor format's mapping, not {OWN_FORMAT}"
            )
        return None
    if source != EVENTS.source:
        raise IngestError(
            f"{shown}: only the {EVENTS.source} source reads vendor formats; {source} is {OWN_FORMAT}"
        )
    fmt = EVENT_FORMATS[cast(str, name)].with_overrides(
        columns=_columns(document.get("columns"), shown),
        timestamp=_timestamp(document.get("event_ts"), shown),
        event_names=_names(document.get("event_names"), shown),
    )
    return DeclaredFormat(format=fmt, file=shown)


def _columns(value: object, shown: str) -> dict[str, Source]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise IngestError(f"{shown}: `columns` maps a column of the {EVENTS.source} contract to fields")
    columns: dict[str, Source] = {}
    for column, source in value.items():
        if column not in EVENTS.names:
            raise IngestError(
                f"{shown}: columns: {str(column)!r} is not a column of the {EVENTS.source} contract "
                f"({', '.join(EVENTS.names)})"
            )
        columns[column] = _source(source, f"{shown}: columns: {column}")
    return columns


def _source(value: object, where: str) -> Source:
    if isinstance(value, Mapping) and set(value) == {"hash_of"}:
        return HashOf(_paths(value["hash_of"], where))
    return _paths(value, where)


def _paths(value: object, where: str) -> tuple[str, ...]:
    paths = [value] if isinstance(value, str) else value
    if not isinstance(paths, list) or not paths or not all(isinstance(p, str) and p.strip() for p in paths):
        raise IngestError(f"{where}: expected a field path, a list of them, or {{hash_of: [paths]}}")
    return tuple(p.strip() for p in paths)


def _timestamp(value: object, shown: str) -> TimestampKind | None:
    if value is None:
        return None
    if value not in TIMESTAMP_KINDS:
        raise IngestError(f"{shown}: event_ts {value!r} is not one of {', '.join(TIMESTAMP_KINDS)}")
    return cast(TimestampKind, value)


def _names(value: object, shown: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise IngestError(f"{shown}: `event_names` maps a vendor event name to an event name (text to text)")
    return dict(value)
