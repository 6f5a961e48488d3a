"""How ingest shows text that came from an export in its messages, logs and metadata.

Column names and file names in a landing folder are untrusted text: a header cell can
hold an email address, a CRM export without its header row puts a customer's values
where the names belong. Messages, warnings, Dagster metadata and the `column` of a
quarantined row show such a name only when it looks like an identifier; any other is
referred to by its position. Values never appear in them at all (the quarantine table,
which a person inspects and erasure cleans, is the one place that keeps raw records).
"""

from __future__ import annotations

import re

# Starts with a letter or underscore (so no phone number), then letters, digits and a few
# separators (so no address: no "@", "+", ":" or "/"), at most 64 characters.
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_ .()-]{0,63}")
# In a third-party error message: a quoted literal, or a word with an "@" in it.
_QUOTED_OR_ADDRESS = re.compile(r"'[^']*'|\"[^\"]*\"|\S*@\S*")


def name_key(value: str) -> str:
    """A name with case and every space, hyphen, underscore or dot left out: what it names."""
    return re.sub(r"[^a-z0-9]", "", value.lower())


def looks_like_identifier(name: str) -> bool:
    return IDENTIFIER.fullmatch(name) is not None


def column_phrase(name: str, position: int) -> str:
    """'column 'session_id'' or 'the column at position 12 (name not shown)' (1-based position)."""
    if looks_like_identifier(name):
        return f"column {name!r}"
    return f"the column at position {position} (name not shown)"


def column_label(name: str, position: int) -> str:
    """A column as the quarantine's `column` records it: its name, or its position when not shown."""
    return name if looks_like_identifier(name) else f"<column at position {position}>"


def file_label(name: str) -> str:
    return name if looks_like_identifier(name) else "<a file whose name is not shown>"


def scrubbed(message: str, limit: int = 200) -> str:
    """The first line of a library's error message without quoted literals or addresses.

    pyarrow's and DuckDB's messages can quote a value or a column name from the file.
    """
    first = message.splitlines()[0] if message else ""
    return _QUOTED_OR_ADDRESS.sub("<not shown>", first)[:limit]


def shown_values(counts: dict[str, int]) -> tuple[dict[str, int], int, int]:
    """Values and their rows, most rows first, that may be shown (those that look like identifiers),
    then how many others there are and their rows: an export's text may hold anything."""
    shown = {
        v: n
        for v, n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        if looks_like_identifier(v)
    }
    hidden = {v: n for v, n in counts.items() if v not in shown}
    return shown, len(hidden), sum(hidden.values())
