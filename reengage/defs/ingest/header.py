"""Judge a file's columns against its contract, in time linear in the number of columns.

A header is refused when a column appears twice or a required column is missing (with
the likely rename, when a column not in the contract resembles it); columns not in the
contract are ignored with a warning. Every step is one pass over the names, or bounded:
a file with 100,000 columns is judged as fast as one with eleven (see
benchmarks/ingest_memory.py), and says so in a bounded number of lines.
"""

from __future__ import annotations

import difflib
from collections import Counter

from reengage.defs.ingest.contracts import Contract
from reengage.defs.ingest.names import column_phrase, looks_like_identifier
from reengage.defs.ingest.reader import READ_COLUMNS, IngestError

# More columns than this outside the contract: this is not a renamed column but another
# file, and fuzzy matching (quadratic in name length, linear in candidates) is not worth it.
MAX_RENAME_CANDIDATES = 200
# Columns not in the contract named one warning each; any more are counted in one line.
MAX_NAMED_EXTRAS = 5


def check_columns(columns: list[str], contract: Contract, path: str) -> list[str]:
    """Raise `IngestError` for a header that cannot be loaded; else the warnings it deserves.

    `columns` are the file's own names in file order (for JSON Lines: every key seen, in order
    of first appearance). A file without any column (a JSON Lines file none of whose lines could
    be read, or an empty one) has nothing to judge: its rows are quarantined one by one.
    """
    own = [name for name in columns if name not in READ_COLUMNS]
    if not own:
        return []
    position = {}
    for index, name in enumerate(own, start=1):
        position.setdefault(name, index)
    twice = sorted(name for name, count in Counter(own).items() if count > 1)
    if twice:
        shown = column_phrase(twice[0], position[twice[0]])
        raise IngestError(f"{path}: header: {shown} appears more than once")
    known = set(contract.names)
    extras = sorted(name for name in position if name not in known)
    missing = [
        name for name in contract.names if name not in position and name not in contract.optional_columns
    ]
    if missing:
        raise IngestError(_missing_message(path, missing, extras))
    warnings = [
        f"{path}: header: {column_phrase(name, position[name])} is not in the contract and was ignored"
        for name in extras[:MAX_NAMED_EXTRAS]
    ]
    if len(extras) > MAX_NAMED_EXTRAS:
        more = len(extras) - MAX_NAMED_EXTRAS
        warnings.append(f"{path}: header: {more:,} more columns not in the contract were ignored")
    return warnings


def _missing_message(path: str, missing: list[str], extras: list[str]) -> str:
    # Only names that may be shown are offered as the likely rename.
    candidates = [name for name in extras if looks_like_identifier(name)]
    hints: list[tuple[str, str]] = []
    if len(candidates) <= MAX_RENAME_CANDIDATES:
        for name in missing:
            close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
            if close:
                hints.append((name, close[0]))
    found = [f"found {c!r}" + (f" for {n!r}" if len(missing) > 1 else "") for n, c in hints]
    hint = f" ({'; '.join(found)}: renamed?)" if found else ""
    names = [repr(name) for name in missing]
    if len(names) == 1:
        return f"{path}: header: required column {names[0]} is missing{hint}"
    return f"{path}: header: required columns {', '.join(names)} are missing{hint}"
