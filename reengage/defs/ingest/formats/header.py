"""Judge a file's columns against its declared format, and say which format a file looks like.

A file without the fields every export of its declared format has is another file (another
vendor's, or the project's own contract): it is refused whole, by name, before a row is
stored, with the format its fields do match when there is one.
"""

from __future__ import annotations

from reengage.defs.ingest.contracts import EVENTS
from reengage.defs.ingest.formats import EVENT_FORMATS, OWN_FORMAT
from reengage.defs.ingest.formats.declaration import DeclaredFormat
from reengage.defs.ingest.reader import DECLARATION_FILE, READ_COLUMNS, IngestError


def check_format_columns(columns: list[str], declared: DeclaredFormat, path: str) -> list[str]:
    """Raise `IngestError` for a file that is not of the declared format (JSON Lines: every key seen)."""
    own = {name for name in columns if name not in READ_COLUMNS}
    if not own:  # nothing could be read: its rows are quarantined one by one
        return []
    fmt = declared.format
    missing = [name for name in fmt.required_fields if name not in own]
    if not missing:
        return []
    likely = looks_like(own, besides=fmt.name)
    hint = f"; its fields are those of {likely}" if likely else ""
    fields = ", ".join(repr(name) for name in missing)
    raise IngestError(
        f"{path}: declared as {fmt.title} in {declared.file}, but it has no {fields} "
        f"(every such export has them){hint}: nothing was loaded"
    )


def undeclared_hint(columns: list[str] | None, source: str) -> str:
    """For a file read as the project's own contract: the vendor format its fields match, if one does."""
    likely = looks_like(set(columns or ()), besides=OWN_FORMAT)
    if not likely or source != EVENTS.source:
        return ""
    return f"; its fields are those of {likely}: declare it in {source}/{DECLARATION_FILE}"


def looks_like(fields: set[str], besides: str) -> str:
    """The first format (the own contract included) whose required fields `fields` all has."""
    if besides != OWN_FORMAT:
        required = [n for n in EVENTS.names if n not in EVENTS.optional_columns]
        if all(name in fields for name in required):
            return f"the project's own {EVENTS.source} contract (`format: {OWN_FORMAT}`)"
    for fmt in EVENT_FORMATS.values():
        if fmt.name != besides and all(name in fields for name in fmt.required_fields):
            return f"{fmt.title} (`format: {fmt.name}`)"
    return ""
