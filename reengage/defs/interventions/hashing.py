"""Deterministic assignment: the same user lands in the same arm on every run and machine.

Holdout and variant assignment must not change between reruns, backfills or
hosts, so they use md5 of a plain string (never Python's salted `hash()`),
computed in DuckDB for the whole table at once. The Python twins below give
the same numbers bit for bit; tests and ad-hoc analysis use them to reproduce
an assignment without a warehouse.
"""

from __future__ import annotations

import hashlib

# 13 hex digits = 52 bits: converts exactly to a double, so SQL and Python agree exactly.
_HEX_DIGITS = 13
_SCALE = float(16**_HEX_DIGITS)


def bucket_sql(*parts: str) -> str:
    """SQL for a uniform number in [0, 1) from the '|'-joined SQL string expressions `parts`."""
    key = " || '|' || ".join(f"cast({p} as varchar)" for p in parts)
    return f"(cast(('0x' || left(md5({key}), {_HEX_DIGITS})) as bigint) / {_SCALE!r})"


def bucket(*parts: object) -> float:
    """Python twin of `bucket_sql` for the same values."""
    key = "|".join(str(p) for p in parts)
    return int(hashlib.md5(key.encode("utf-8")).hexdigest()[:_HEX_DIGITS], 16) / _SCALE
