"""After an erasure, a later export cannot bring the person back: ingest drops and counts their rows,
and never quarantines them (quarantine would store the raw text)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from privacy_world import (
    ALICE,
    ALICE_NEW,
    ALICE_PHONE,
    BOB,
    CAROL,
    DAY2,
    SHARED_TABLET,
    World,
    build_world,
    customer,
    erase_person,
    event,
    plaintext_hits,
    write,
)

from reengage.cli import main
from reengage.defs.ingest.loader import load_day
from reengage.privacy.forget_list import PEPPER_TABLE, forgotten_mask
from reengage.privacy.keys import PEPPER_ENV, PepperError, key_hash


@pytest.fixture
def erased(isolated_home: Path) -> World:
    world = build_world(isolated_home)
    erase_person(world, customer_id=ALICE)
    return world


def test_a_re_export_of_an_erased_person_is_dropped_and_counted(erased: World) -> None:
    # The CRM re-sends Alice (new and old address), alongside Bob, and a bad row of hers.
    write(
        erased.landing,
        "customers",
        DAY2,
        [
            customer(ALICE, ALICE_NEW.upper(), "Alice", DAY2),
            customer(BOB, "bob@example.com", "Bob", DAY2),
            customer("cus_99", ALICE_NEW, "Alice again", DAY2),  # a new id, but her address
            customer(ALICE, "not-an-email", "Alice", DAY2).replace(ALICE, f" {ALICE} ", 1),
        ],
    )
    con = duckdb.connect(str(erased.warehouse))
    try:
        report = load_day(con, str(erased.landing), "customers", DAY2)
        stored = con.execute(
            "select customer_id from raw.customers where _partition_date = ?", [DAY2]
        ).fetchall()
        assert plaintext_hits(con, [ALICE, ALICE_NEW]) == []
    finally:
        con.close()
    assert stored == [(BOB,)]
    assert report.rows_forgotten == 3
    assert report.rows_loaded == 1 and report.rows_quarantined == 0
    assert "dropped 3 of erased people" in report.summary


def test_a_re_exported_row_of_an_erased_person_with_a_value_set_to_null_is_dropped_and_counted_once(
    erased: World,
) -> None:
    # Guards the count of dropped rows: a loaded row with a bad lifetime value is both a row and a
    # quarantine warning, and was counted twice; and neither copy may be stored.
    write(
        erased.landing,
        "customers",
        DAY2,
        [
            customer(ALICE, ALICE_NEW, "Alice", DAY2, value="lots"),
            customer(BOB, "bob@example.com", "Bob", DAY2),
        ],
    )
    con = duckdb.connect(str(erased.warehouse))
    try:
        report = load_day(con, str(erased.landing), "customers", DAY2)
        assert plaintext_hits(con, [ALICE, ALICE_NEW]) == []
    finally:
        con.close()
    assert (report.rows_forgotten, report.rows_loaded, report.values_set_to_null) == (1, 1, {})


def test_events_of_an_erased_user_or_their_own_device_are_dropped(erased: World) -> None:
    write(
        erased.landing,
        "events",
        DAY2,
        [
            event("f1", ALICE, "anon-new", DAY2, 8),
            event("f2", "", ALICE_PHONE, DAY2, 9),
            event("f3", CAROL, SHARED_TABLET, DAY2, 10),
            event("f4", BOB, "anon-b1", DAY2, 11),
        ],
    )
    con = duckdb.connect(str(erased.warehouse))
    try:
        report = load_day(con, str(erased.landing), "events", DAY2)
        stored = con.execute(
            "select event_id from raw.events where _partition_date = ? order by 1", [DAY2]
        ).fetchall()
    finally:
        con.close()
    assert stored == [("f3",), ("f4",)]
    assert report.rows_forgotten == 2


def test_loading_without_any_erasure_is_unchanged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    world = build_world(tmp_path)
    # Nobody erased, nothing to recognise: a deployment that never erased needs no pepper to load.
    monkeypatch.delenv(PEPPER_ENV)
    con = duckdb.connect(str(world.warehouse))
    try:
        report = load_day(con, str(world.landing), "customers", DAY2)
    finally:
        con.close()
    assert report.rows_forgotten == 0 and report.rows_loaded == 1
    assert "erased" not in report.summary


def test_the_mask_matches_whole_normalised_values_only() -> None:
    import pandas as pd

    listed = {"customer_id": {key_hash("customer_id", "cus_1")}, "email": set(), "anonymous_id": set()}
    frame = pd.DataFrame({"customer_id": ["cus_1", "cus_10", " cus_1 ", None, "CUS_1"]})
    assert forgotten_mask(frame, listed).tolist() == [True, False, True, False, False]


def reload_alice(world: World) -> tuple[str, list[tuple]]:
    """Re-export Alice beside Bob and load it: (the PepperError's message or "", raw rows of the day)."""
    write(
        world.landing,
        "customers",
        DAY2,
        [customer(ALICE, ALICE_NEW, "Alice", DAY2), customer(BOB, "b@x.io", "Bob", DAY2)],
    )
    con = duckdb.connect(str(world.warehouse))
    try:
        try:
            load_day(con, str(world.landing), "customers", DAY2)
            message = ""
        except PepperError as err:
            message = str(err)
        stored = con.execute(
            "select customer_id from raw.customers where _partition_date = ? order by 1", [DAY2]
        ).fetchall()
    finally:
        con.close()
    return message, stored


def test_without_the_pepper_ingest_stops_rather_than_load_an_erased_person(
    erased: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Guards the built-in default pepper: with the setting unset, the old exports' rows hashed to
    # keys nobody had listed, and the erased person was silently loaded again.
    monkeypatch.delenv(PEPPER_ENV)
    message, stored = reload_alice(erased)
    assert message.startswith(f"{PEPPER_ENV} is not set") and "\n" not in message
    assert "docs/privacy.md" in message
    assert stored == [], "nothing of the day may load, Alice least of all"


def test_a_different_pepper_stops_ingest_and_says_so(erased: World, monkeypatch: pytest.MonkeyPatch) -> None:
    # Guards a changed pepper: every listed key was made with the old one, so none would match.
    monkeypatch.setenv(PEPPER_ENV, "another-secret-entirely")
    message, stored = reload_alice(erased)
    assert message.startswith(f"{PEPPER_ENV} is not the pepper privacy.forget_list was made with")
    assert "another-secret-entirely" not in message and "\n" not in message
    assert stored == []


def test_the_same_pepper_drops_the_erased_person_and_loads_the_others(erased: World) -> None:
    message, stored = reload_alice(erased)
    assert message == ""
    assert stored == [(BOB,)]


def test_a_forget_list_without_a_fingerprint_stops_ingest_until_the_pepper_is_recorded(
    erased: World, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A list made before fingerprints were kept cannot be checked: an operator vouches for the
    # pepper once, with the command the message names, and ingest goes on.
    con = duckdb.connect(str(erased.warehouse))
    try:
        con.execute(f"delete from {PEPPER_TABLE}")
    finally:
        con.close()
    message, stored = reload_alice(erased)
    assert "erase --record-pepper" in message and stored == []
    monkeypatch.setenv("REENGAGE_HOME", str(erased.home))
    assert main(["erase", "--record-pepper"]) == 0
    assert "recorded the fingerprint" in capsys.readouterr().out
    assert reload_alice(erased) == ("", [(BOB,)])
