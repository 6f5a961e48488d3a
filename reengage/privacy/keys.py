"""Identifiers as the forget list keeps them: normalised, then HMAC-SHA-256 keyed with a pepper.

A plain SHA-256 of an email address is reversible by hashing a list of
addresses; keying the hash with a secret (the pepper) stops that while still
letting the loader look a value up. The pepper comes from
`REENGAGE_PRIVACY_PEPPER` and has no default outside the demo: every stored key
depends on it, so a missing or changed pepper would let erased people back in
unrecognised. The forget list records the pepper's fingerprint (below) so that
both are caught and stop the run (docs/privacy.md, "The pepper").
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable

from reengage import settings
from reengage.defs.ingest.reader import IngestError

PEPPER_ENV = "REENGAGE_PRIVACY_PEPPER"
PEPPER_DOCS = 'docs/privacy.md, "The pepper"'
# HMAC message of the fingerprint: no identifier key's message ("<kind>|<value>") can equal it.
_FINGERPRINT_LABEL = b"reengage forget-list pepper fingerprint v1"


class PepperError(IngestError):
    """The pepper is missing or is not the one the forget list was made with.

    An IngestError, so ingest stops at once with the message (no retries: waiting does not
    set a variable), and erasure refuses to start.
    """


# What an identifier is; the kind is part of the hash, so an id equal to an email hashes apart.
KINDS = ("customer_id", "email", "anonymous_id", "phone")

# Column names that hold an identifier of each kind, across raw tables, dbt models and Python tables.
COLUMN_KINDS: dict[str, str] = {
    "customer_id": "customer_id",
    "user_id": "customer_id",
    "email": "email",
    "anonymous_id": "anonymous_id",
    "phone": "phone",
}


def pepper() -> str:
    """The configured pepper; raises PepperError when it is not set."""
    secret = settings.privacy_pepper()
    if secret is None:
        raise PepperError(
            f"{PEPPER_ENV} is not set: the forget list of erased people is keyed with this secret, so "
            "nothing is erased or loaded without it; set it to the secret the forget list was made with "
            "(before the first erasure: a new long random secret, kept with the other secrets) "
            f"({PEPPER_DOCS})"
        )
    return secret


def fingerprint(secret: str) -> str:
    """Tells one pepper from another without revealing it: HMAC-SHA-256 keyed with the pepper, hex."""
    return hmac.new(secret.encode("utf-8"), _FINGERPRINT_LABEL, hashlib.sha256).hexdigest()


def normalise(kind: str, value: object) -> str | None:
    """The form every stage stores: ids and phones trimmed (as ingest trims them), emails also lower-cased."""
    if kind not in KINDS:
        raise ValueError(f"unknown identifier kind {kind!r}; expected one of {KINDS}")
    if value is None:
        return None
    text = str(value).strip()
    if not text or text.lower() in ("nan", "none", "<na>"):
        return None
    return text.lower() if kind == "email" else text


def key_hash(kind: str, value: object, secret: str | None = None) -> str | None:
    """The forget-list key of one identifier (hex), or None for an empty value."""
    normal = normalise(kind, value)
    if normal is None:
        return None
    key = (secret if secret is not None else pepper()).encode("utf-8")
    return hmac.new(key, f"{kind}|{normal}".encode(), hashlib.sha256).hexdigest()


def hashes_of(kind: str, values: Iterable[object], secret: str | None = None) -> dict[str, str]:
    """normalised value -> hash for each distinct non-empty value (the loader hashes each once)."""
    secret = secret if secret is not None else pepper()
    out: dict[str, str] = {}
    for value in values:
        normal = normalise(kind, value)
        if normal is not None and normal not in out:
            out[normal] = key_hash(kind, normal, secret) or ""
    return out


# What separates values in a quarantined record's raw text (JSON, a CSV line, a broken line).
_SEPARATORS = re.compile(r"[\s,;\"'`{}\[\]()<>|=:\\]+")


def record_tokens(text: object) -> set[str]:
    """The separate values in a raw record's text, so an id matches only as a whole value."""
    if text is None:
        return set()
    return {token for token in _SEPARATORS.split(str(text)) if token}
