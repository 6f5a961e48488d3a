"""Erasure requests: one per line of a CSV file, from the landing folder or the command line.

A request file has a header with `customer_id` and/or `email`, and optionally
`request_id` (e.g. a ticket number; never an identifier of the person),
`requested_by` and `requested_at` (ISO-8601). Each line names one person by
either identifier. A bad line is reported with its file, row and column; an
unknown column stops the file, since a misspelt `email` column would
otherwise drop requests silently.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass
from datetime import UTC, datetime

import fsspec

from reengage.emails import VALID_ADDRESS
from reengage.privacy.keys import key_hash, normalise

FOLDER = "privacy"
FILE_PATTERN = re.compile(r"erasure_requests_[A-Za-z0-9_.-]*\.csv")
IDENTIFIER_COLUMNS = ("customer_id", "email")
OPTIONAL_COLUMNS = ("request_id", "requested_by", "requested_at")


class RequestFileError(ValueError):
    """Lines that could not be read as requests; each problem names file, row and column."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class ErasureRequest:
    """One person to erase, named by customer id or email (the id wins when both are given)."""

    customer_id: str | None
    email: str | None
    request_id: str
    requested_by: str
    requested_at: datetime
    source: str  # "cli" or the request file's name

    @property
    def subject_kind(self) -> str:
        return "customer_id" if self.customer_id else "email"

    @property
    def subject_hash(self) -> str:
        """The keyed hash of the identifier the request named (the audit's only name for the person)."""
        value = self.customer_id if self.customer_id else self.email
        return key_hash(self.subject_kind, value) or ""


def make_request(
    customer_id: str | None,
    email: str | None,
    *,
    requested_by: str,
    source: str,
    request_id: str | None = None,
    requested_at: datetime | None = None,
) -> ErasureRequest:
    """A validated request; without a request id one is derived from the source and the hashed subject."""
    cid = normalise("customer_id", customer_id)
    mail = normalise("email", email)
    if cid is None and mail is None:
        raise ValueError("an erasure request needs a customer id or an email address")
    if mail is not None and not re.match(VALID_ADDRESS, mail):
        raise ValueError("not a valid email address")
    subject = key_hash("customer_id", cid) if cid else key_hash("email", mail)
    derived = hashlib.sha256(f"{source}|{subject}".encode()).hexdigest()[:32]
    return ErasureRequest(
        customer_id=cid,
        email=mail,
        request_id=(request_id or "").strip() or derived,
        requested_by=(requested_by or "").strip() or "unknown",
        requested_at=requested_at or datetime.now(UTC),
        source=source,
    )


def request_files(landing: str) -> list[str]:
    """Request files in `<landing>/privacy/`, oldest name first (a missing folder means none)."""
    fs, root = fsspec.core.url_to_fs(landing)
    folder = f"{root.rstrip('/')}/{FOLDER}"
    protocol = landing.split("://", 1)[0] + "://" if "://" in landing else ""
    try:
        names = sorted(p.rsplit("/", 1)[-1] for p in fs.ls(folder, detail=False))
    except FileNotFoundError:
        return []
    return [f"{protocol}{folder}/{name}" for name in names if FILE_PATTERN.fullmatch(name)]


def read_request_file(path: str, *, default_requested_by: str) -> tuple[list[ErasureRequest], list[str]]:
    """(requests, problems): good lines become requests, bad ones a 'file: row R, column C: why' each."""
    name = path.rsplit("/", 1)[-1]
    with fsspec.open(path, "rb") as handle:
        raw = handle.read()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        return [], [f"{path}: not UTF-8 text (byte {err.start})"]
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    if not header:
        return [], [f"{path}: empty file (expected a header with customer_id and/or email)"]
    unknown = [h for h in header if h not in IDENTIFIER_COLUMNS + OPTIONAL_COLUMNS]
    if unknown or not any(h in header for h in IDENTIFIER_COLUMNS):
        why = f"unknown column(s) {', '.join(unknown)}" if unknown else "no customer_id or email column"
        expected = ", ".join(IDENTIFIER_COLUMNS + OPTIONAL_COLUMNS)
        return [], [f"{path}: header: {why} (expected {expected})"]
    reader.fieldnames = header
    requests: list[ErasureRequest] = []
    problems: list[str] = []
    for row_number, row in enumerate(reader, start=1):
        if None in row:
            problems.append(f"{path}: row {row_number}: more values than header columns")
            continue
        values = {k: (v or "").strip() for k, v in row.items()}
        if not any(values.values()):
            continue  # a blank line
        requested_at, problem = _timestamp(values.get("requested_at", ""))
        if problem:
            problems.append(f"{path}: row {row_number}, column requested_at: {problem}")
            continue
        try:
            requests.append(
                make_request(
                    values.get("customer_id"),
                    values.get("email"),
                    requested_by=values.get("requested_by") or default_requested_by,
                    source=name,
                    request_id=values.get("request_id"),
                    requested_at=requested_at,
                )
            )
        except ValueError as err:
            column = "email" if "email address" in str(err) and values.get("email") else "customer_id, email"
            problems.append(f"{path}: row {row_number}, column {column}: {err}")
    return requests, problems


def _timestamp(text: str) -> tuple[datetime | None, str | None]:
    if not text:
        return None, None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None, "not a timestamp (expected ISO-8601, e.g. 2026-03-01T09:00:00Z)"
    return (value if value.tzinfo else value.replace(tzinfo=UTC)), None
