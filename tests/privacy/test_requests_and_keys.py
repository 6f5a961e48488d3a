"""Request files read with file/row/column errors; identifiers normalised and hashed with the pepper."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reengage.privacy.keys import (
    KINDS,
    PEPPER_ENV,
    PepperError,
    fingerprint,
    key_hash,
    normalise,
    pepper,
    record_tokens,
)
from reengage.privacy.requests import make_request, read_request_file, request_files


def write(path: Path, text: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


def test_emails_are_matched_whatever_their_case_and_spacing_and_ids_exactly() -> None:
    assert normalise("email", "  Ann@Example.COM ") == "ann@example.com"
    assert key_hash("email", "Ann@Example.COM") == key_hash("email", "ann@example.com ")
    assert key_hash("customer_id", " cus_1 ") == key_hash("customer_id", "cus_1")
    assert key_hash("customer_id", "CUS_1") != key_hash("customer_id", "cus_1")
    assert key_hash("customer_id", "") is None and normalise("email", None) is None


def test_the_hash_depends_on_the_kind_and_the_pepper(monkeypatch: pytest.MonkeyPatch) -> None:
    demo = key_hash("email", "ann@example.com")
    assert key_hash("anonymous_id", "ann@example.com") != demo
    monkeypatch.setenv(PEPPER_ENV, "a-real-secret")
    assert key_hash("email", "ann@example.com") != demo
    assert len(demo) == 64 and "ann" not in demo


def test_production_code_has_no_default_pepper(monkeypatch: pytest.MonkeyPatch) -> None:
    # Guards the built-in demo pepper: with the setting forgotten, keys were made with a value
    # printed in the source. Blank counts as unset.
    for unset in (None, "", "   "):
        if unset is None:
            monkeypatch.delenv(PEPPER_ENV)
        else:
            monkeypatch.setenv(PEPPER_ENV, unset)
        with pytest.raises(PepperError, match=f"^{PEPPER_ENV} is not set"):
            pepper()
        with pytest.raises(PepperError):
            key_hash("email", "ann@example.com")


peppers = st.text(min_size=8, max_size=200).filter(lambda text: text.strip() != "")


def unkeyed_digests(secret: str) -> set[str]:
    """What a fingerprint that leaked the pepper could look like: the pepper itself, encoded or hashed."""
    raw = secret.encode("utf-8")
    found = {secret, raw.hex(), base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()}
    for name in ("md5", "sha1", "sha224", "sha256", "sha384", "sha512", "sha3_256", "blake2b", "blake2s"):
        found.add(hashlib.new(name, raw).hexdigest())
    return found


@given(secret=peppers, other=peppers)
def test_the_fingerprint_tells_peppers_apart_without_revealing_them(secret: str, other: str) -> None:
    # The fingerprint sits in the warehouse beside the keys: it must identify the pepper, never
    # give it away, and never equal a forget-list key.
    mark = fingerprint(secret)
    assert mark == fingerprint(secret) and len(mark) == 64
    assert mark not in unkeyed_digests(secret) and secret not in mark
    assert all(mark != key_hash(kind, secret, secret) for kind in KINDS)
    if other != secret:
        assert fingerprint(other) != mark


def test_raw_text_is_split_into_whole_values() -> None:
    tokens = record_tokens('{"customer_id": "cus_1", "email": "Ann@Example.com", "note": "cus_10"}')
    assert {"cus_1", "Ann@Example.com", "cus_10"} <= tokens
    assert record_tokens("cus_1,ann@example.com,Ann") >= {"cus_1", "ann@example.com"}


def test_a_request_file_gives_one_request_per_line_with_stable_ids(tmp_path: Path) -> None:
    path = write(
        tmp_path / "privacy" / "erasure_requests_2026-03-11.csv",
        "customer_id,email,request_id,requested_by\ncus_1,,T-100,dpo@company\n,Ann@Example.com,,\n\n",
    )
    requests, problems = read_request_file(path, default_requested_by="file")
    again, _ = read_request_file(path, default_requested_by="file")
    assert problems == []
    assert [(r.customer_id, r.email, r.request_id, r.requested_by) for r in requests[:1]] == [
        ("cus_1", None, "T-100", "dpo@company")
    ]
    assert requests[1].email == "ann@example.com" and requests[1].requested_by == "file"
    assert requests[1].subject_hash == key_hash("email", "ann@example.com")
    assert [r.request_id for r in again] == [r.request_id for r in requests], "derived ids must be stable"


def test_bad_lines_are_named_by_file_row_and_column_and_good_lines_kept(tmp_path: Path) -> None:
    path = write(
        tmp_path / "erasure_requests_x.csv",
        "customer_id,email,requested_at\ncus_1,,\n,not-an-email,\n,,yesterday\ncus_2,,2026-03-01T09:00:00Z\n",
    )
    requests, problems = read_request_file(path, default_requested_by="file")
    assert [r.customer_id for r in requests] == ["cus_1", "cus_2"]
    assert problems == [
        f"{path}: row 2, column email: not a valid email address",
        f"{path}: row 3, column requested_at: not a timestamp (expected ISO-8601, e.g. 2026-03-01T09:00:00Z)",
    ]
    assert "not-an-email" not in "\n".join(problems), "problems never echo the value"


def test_a_misspelt_column_stops_the_whole_file(tmp_path: Path) -> None:
    path = write(tmp_path / "erasure_requests_x.csv", "customer_id,e-mail\ncus_1,ann@example.com\n")
    requests, problems = read_request_file(path, default_requested_by="file")
    assert requests == []
    assert problems == [
        f"{path}: header: unknown column(s) e-mail "
        "(expected customer_id, email, request_id, requested_by, requested_at)"
    ]


def test_only_erasure_request_files_in_the_privacy_folder_are_picked_up(tmp_path: Path) -> None:
    assert request_files(str(tmp_path)) == []
    for name in ("erasure_requests_2026-03-11.csv", "erasure_requests_b.csv", "notes.txt", "erasure.csv"):
        write(tmp_path / "privacy" / name, "customer_id\ncus_1\n")
    found = [p.rsplit("/", 1)[-1] for p in request_files(str(tmp_path))]
    assert found == ["erasure_requests_2026-03-11.csv", "erasure_requests_b.csv"]


def test_a_request_needs_an_identifier() -> None:
    with pytest.raises(ValueError, match="customer id or an email"):
        make_request(" ", None, requested_by="x", source="cli")
