"""privacy.forget_list: hashed identifiers of erased people, and the filter ingest applies with it.

An erased person's rows are gone from every store, but tomorrow's CRM export
may still carry them. The forget list keeps only keyed hashes (keys.py) of
their customer ids, email addresses and anonymous ids, which is enough to
recognise and drop such rows at ingest without keeping who they were.
Dropped rows are counted, never quarantined: quarantine would store the raw
text the person asked us to forget.

The keys are only as good as the pepper they were made with, so the list keeps
the pepper's fingerprint (privacy.forget_list_pepper, recorded with the first
key). Whenever the list has keys, ingest and erasure first check the configured
pepper against it and stop on a missing or different one: otherwise reloading
an erased person's old exports would bring them back without a word.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import duckdb
import pandas as pd

from reengage.privacy.keys import (
    COLUMN_KINDS,
    KINDS,
    PEPPER_DOCS,
    PEPPER_ENV,
    PepperError,
    fingerprint,
    hashes_of,
    key_hash,
    pepper,
    record_tokens,
)
from reengage.schema.declared import FORGET_LIST, FORGET_LIST_PEPPER

SCHEMA = FORGET_LIST.schema
TABLE = FORGET_LIST.name
PEPPER_TABLE = FORGET_LIST_PEPPER.name
# The command that records the fingerprint for a list made before fingerprints were kept.
RECORD_PEPPER_COMMAND = "python -m reengage.cli erase --record-pepper"


def recorded_fingerprint(con: duckdb.DuckDBPyConnection) -> str | None:
    rows = con.execute(f"select fingerprint from {PEPPER_TABLE} order by recorded_at limit 1").fetchall()
    return rows[0][0] if rows else None


def listed_keys(con: duckdb.DuckDBPyConnection) -> int:
    return int(con.execute(f"select count(*) from {TABLE}").fetchall()[0][0])


def checked_pepper(con: duckdb.DuckDBPyConnection) -> str:
    """The configured pepper, once it is known to be the one the forget list's keys were made with.

    Raises PepperError when it is not set, when it differs from the recorded fingerprint, or
    when the list has keys but no fingerprint (made before fingerprints were kept).
    """
    secret = pepper()
    recorded = recorded_fingerprint(con)
    if recorded is None:
        keys = listed_keys(con)
        if keys:
            raise PepperError(
                f"{TABLE} holds {keys} key(s) but no fingerprint of the pepper they were made with: if "
                f"{PEPPER_ENV} is that pepper, record it with `{RECORD_PEPPER_COMMAND}`; nothing is "
                f"loaded or erased until then ({PEPPER_DOCS})"
            )
        return secret
    current = fingerprint(secret)
    if current != recorded:
        raise PepperError(
            f"{PEPPER_ENV} is not the pepper {TABLE} was made with (fingerprint {recorded[:12]} recorded, "
            f"{current[:12]} configured): erased people would not be recognised, so nothing is loaded "
            f"or erased; set it back to the secret the list was made with ({PEPPER_DOCS})"
        )
    return secret


def record_pepper(con: duckdb.DuckDBPyConnection, now: datetime) -> bool:
    """Record the configured pepper's fingerprint unless one is recorded; True when it was written."""
    if recorded_fingerprint(con) is not None:
        return False
    con.execute(
        FORGET_LIST_PEPPER.insert_values(["fingerprint", "recorded_at"]), [fingerprint(pepper()), now]
    )
    return True


def add_keys(
    con: duckdb.DuckDBPyConnection, keys: Iterable[tuple[str, str]], request_id: str, now: datetime
) -> int:
    """Add (kind, hash) pairs not yet listed; returns how many were new (in the caller's transaction).

    The first keys also record the pepper's fingerprint, in the same transaction.
    """
    rows = sorted({(kind, h) for kind, h in keys if h})
    if rows:
        record_pepper(con, now)
    added = 0
    for kind, digest in rows:
        if kind not in KINDS:
            raise ValueError(f"unknown identifier kind {kind!r}")
        present = con.execute(
            f"select count(*) from {TABLE} where key_hash = ? and key_kind = ?", [digest, kind]
        ).fetchall()[0][0]
        if not present:
            con.execute(
                FORGET_LIST.insert_values(["key_hash", "key_kind", "request_id", "added_at"]),
                [digest, kind, request_id, now],
            )
            added += 1
    return added


def forgotten(con: duckdb.DuckDBPyConnection) -> dict[str, set[str]]:
    """Every listed hash by kind; empty when nobody was ever erased."""
    out: dict[str, set[str]] = {kind: set() for kind in KINDS}
    for kind, digest in con.execute(f"select key_kind, key_hash from {TABLE}").fetchall():
        out.setdefault(kind, set()).add(digest)
    return out


def forgotten_mask(frame: pd.DataFrame, listed: dict[str, set[str]], secret: str | None = None) -> pd.Series:
    """True for each row whose customer id / user id, email or anonymous id is on the list."""
    mask = pd.Series(False, index=frame.index)
    if not any(listed.values()):
        return mask
    secret = secret if secret is not None else pepper()
    for column, kind in COLUMN_KINDS.items():
        if column not in frame.columns or not listed.get(kind):
            continue
        values = frame[column].dropna().unique()
        # Hash each distinct value once: a day of events repeats the same few ids many times.
        hits = {value for value in values if key_hash(kind, value, secret) in listed[kind]}
        if hits:
            mask |= frame[column].isin(list(hits))
    return mask


def quarantine_mask(
    quarantine: pd.DataFrame, listed: dict[str, set[str]], secret: str | None = None
) -> pd.Series:
    """True for each quarantined record whose raw text carries a listed identifier as a whole value."""
    mask = pd.Series(False, index=quarantine.index)
    if quarantine.empty or not any(listed.values()) or "raw_record" not in quarantine.columns:
        return mask
    secret = secret if secret is not None else pepper()
    for index, text in quarantine["raw_record"].items():
        tokens = record_tokens(text)
        for kind in KINDS:
            if listed.get(kind) and any(h in listed[kind] for h in hashes_of(kind, tokens, secret).values()):
                mask[index] = True
                break
    return mask


def drop_forgotten(
    con: duckdb.DuckDBPyConnection, good: pd.DataFrame, quarantine: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """A parsed export without the rows of erased people: (good, quarantine, rows dropped).

    Free when nobody was ever erased: one look at the (empty) list and no hashing, and no
    pepper needed. Otherwise the pepper must be the one the list was made with (PepperError).
    """
    listed = forgotten(con)
    if not any(listed.values()):
        return good, quarantine, 0
    secret = checked_pepper(con)
    drop_good = forgotten_mask(good, listed, secret)
    drop_quarantined = quarantine_mask(quarantine, listed, secret)
    # A record quarantined on several columns appears once per column, and a loaded row with a value
    # set to null appears in both frames: count each record once.
    dropped_rows = (
        quarantine.loc[drop_quarantined, "row"] if "row" in quarantine else pd.Series(dtype="int64")
    )
    if "_source_row" in good:
        dropped_rows = dropped_rows[~dropped_rows.isin(good.loc[drop_good, "_source_row"])]
    dropped_records = dropped_rows.nunique()
    return (
        good.loc[~drop_good],
        quarantine.loc[~drop_quarantined],
        int(drop_good.sum()) + int(dropped_records),
    )
