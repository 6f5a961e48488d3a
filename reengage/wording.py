"""Counts as a person reads them in the commands' output and the run summary: "1 row", "2 rows"."""

from __future__ import annotations


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """`n` (with thousands separators) and `noun`, in the plural unless `n` is 1; `plural` for a noun
    whose plural is not `noun` + "s" ("1 entry", "2 entries")."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"
