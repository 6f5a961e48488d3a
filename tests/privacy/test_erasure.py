"""Erasing one person: gone from every warehouse table, blanked in the ledger, deleted from the sink,
hashed on the forget list, audited; nobody else touched; a second run changes nothing.

Real DuckDB file loaded by the real loader, real send ledger and sink store files.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pytest
from privacy_world import (
    ALICE,
    ALICE_MOBILE,
    ALICE_NEW,
    ALICE_OLD,
    ALICE_PHONE,
    BOB,
    BOB_EMAIL,
    CAROL,
    FAMILY_LINE,
    SHARED_TABLET,
    World,
    build_world,
    erase_person,
    file_bytes,
    plaintext_hits,
)

from reengage.defs.delivery.ledger import ERASED_MARKER, SendLedger
from reengage.privacy.erasure import LEDGER_TABLE, erase, erase_all, registered_stores
from reengage.privacy.keys import key_hash
from reengage.privacy.requests import make_request
from reengage_dev.sink.erasure import SINK_TABLE, erase_recipients
from reengage_dev.sink.store import SinkStore

ALICE_VALUES = [ALICE, ALICE_OLD, ALICE_NEW, ALICE_PHONE, ALICE_MOBILE]


@pytest.fixture
def world(isolated_home: Path) -> World:
    # In REENGAGE_HOME: the local sink's erasure (an entry point) clears the home's sink store.
    return build_world(isolated_home)


def query(world: World, sql: str, params: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(world.warehouse), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def test_erasing_by_an_old_email_removes_every_id_and_address_the_person_ever_had(world: World) -> None:
    con = duckdb.connect(str(world.warehouse), read_only=True)
    try:
        assert plaintext_hits(con, ALICE_VALUES), "the world must hold Alice before the erasure"
    finally:
        con.close()

    outcome = erase_person(world, email=f"  {ALICE_OLD.upper()} ")

    con = duckdb.connect(str(world.warehouse), read_only=True)
    try:
        assert plaintext_hits(con, ALICE_VALUES) == []
    finally:
        con.close()
    removed = outcome.rows_removed_by_table
    assert removed["raw.customers"] == 2  # both snapshots, old and new address
    assert removed["raw.quarantine"] >= 1  # the bad row's raw text
    assert removed["raw.events"] == 3  # her two logged-in events and her phone's anonymous one
    assert removed["marts.fct_user_features"] == 1
    assert removed["interventions.intervention_list"] == 1
    assert removed[LEDGER_TABLE] == 2 and removed[SINK_TABLE] == 1


def test_other_people_and_a_shared_device_are_kept(world: World) -> None:
    erase_person(world, customer_id=ALICE)

    assert query(world, "select customer_id from raw.customers order by 1") == [(BOB,), (CAROL,)]
    events = query(world, "select event_id, anonymous_id from raw.events order by 1")
    assert events == [("e4", SHARED_TABLET), ("e5", "anon-b1")], (
        "Carol's tablet event stays; cus_10 is not cus_1"
    )
    assert query(world, "select customer_id from interventions.intervention_list") == [(BOB,)]
    # The family line Alice's newest snapshot carried is Carol's too: hers to keep.
    assert query(world, "select customer_id, phone from marts.fct_user_features order by 1") == [
        (BOB, None),
        (CAROL, FAMILY_LINE),
    ]
    bob = SinkStore(world.sink_path).messages()
    assert [m.customer_id for m in bob] == [BOB]
    assert {r.customer_id for r in SendLedger(world.ledger_path).rows()} == {BOB, ERASED_MARKER}


def test_the_ledger_keeps_send_ids_and_states_so_nothing_is_ever_sent_twice(world: World) -> None:
    ledger = SendLedger(world.ledger_path)
    before = {r.send_id: r.state for r in ledger.rows() if r.customer_id == ALICE}
    assert sorted(before.values()) == ["accepted", "planned"]

    outcome = erase_person(world, customer_id=ALICE)

    after = {r.send_id: r for r in ledger.rows(send_ids=world.alice_send_ids)}
    assert set(after) == set(before), "send ids stay: a rerun must find them"
    accepted = [sid for sid, state in before.items() if state == "accepted"][0]
    planned = [sid for sid, state in before.items() if state == "planned"][0]
    assert after[accepted].state == "accepted"
    assert after[planned].state == "cancelled", "an erased person's pending message must never go out"
    assert outcome.ledger_rows_cancelled == 1
    assert {r.customer_id for r in after.values()} == {ERASED_MARKER}
    # Re-planning the same message (a rerun of the day) is still a no-op.
    assert ledger.plan([{"customer_id": ALICE, "campaign_id": "winback", "run_date": "2026-03-10"}]) == 0


def test_the_ledger_and_sink_files_keep_no_bytes_of_the_erased_address(world: World) -> None:
    assert ALICE_OLD.encode() in file_bytes(world.sink_path)
    erase_person(world, email=ALICE_NEW)
    sink_bytes = file_bytes(world.sink_path)
    ledger_bytes = file_bytes(world.ledger_path)
    for value in (ALICE_OLD, ALICE_NEW):
        assert value.encode() not in sink_bytes
    assert f'"{ALICE}"'.encode() not in sink_bytes
    assert BOB_EMAIL.encode() in sink_bytes, "the check must be able to see an address that is there"
    # cus_1 as a whole value only: cus_10 (Bob) is still there, as he should be.
    assert re.search(rb"cus_1(?![0-9])", ledger_bytes) is None
    assert re.search(rb"cus_10(?![0-9])", ledger_bytes) is not None


def test_the_forget_list_and_audit_hold_hashes_only(world: World) -> None:
    outcome = erase_person(world, email=ALICE_OLD)

    listed = query(world, "select key_kind, key_hash from privacy.forget_list order by 1, 2")
    expected = sorted(
        [("customer_id", key_hash("customer_id", ALICE))]
        + [("email", key_hash("email", e)) for e in (ALICE_OLD, ALICE_NEW)]
        + [("anonymous_id", key_hash("anonymous_id", ALICE_PHONE))]
        + [("phone", key_hash("phone", ALICE_MOBILE))]
    )
    assert listed == expected, (
        "her ids, both addresses, her own device and her own number; not the shared tablet or family line"
    )
    (audit,) = query(world, "select * from privacy.erasure_audit")
    columns = [r[0] for r in query(world, "describe privacy.erasure_audit")]
    record = dict(zip(columns, audit, strict=True))
    assert record["subject_hash"] == key_hash("email", ALICE_OLD)
    assert record["subject_kind"] == "email"
    assert record["requested_by"] == "privacy-team"
    assert record["completed_at"] >= record["requested_at"]
    assert record["rows_removed"] == outcome.rows_removed > 0
    assert json.loads(record["rows_removed_by_table"]) == outcome.rows_removed_by_table
    text = " ".join(str(v) for v in audit).lower()
    assert not any(value in text for value in (ALICE_OLD, ALICE_NEW, ALICE_PHONE, ALICE_MOBILE))
    assert f" {ALICE} " not in f" {text} "


def test_erasing_twice_changes_nothing_and_records_the_second_request(world: World) -> None:
    first = erase_person(world, customer_id=ALICE)
    listed = query(world, "select count(*) from privacy.forget_list")[0][0]
    second = erase_person(world, customer_id=ALICE)
    assert first.rows_removed > 0
    assert second.rows_removed == 0 and second.rows_removed_by_table == {}
    assert query(world, "select count(*) from privacy.forget_list")[0][0] == listed
    assert query(world, "select count(*) from privacy.erasure_audit")[0][0] == 2


def test_a_request_file_line_is_carried_out_once_across_runs(world: World) -> None:
    request = make_request(ALICE, None, requested_by="ticket-7", source="erasure_requests_2026-03-11.csv")
    con = duckdb.connect(str(world.warehouse))
    try:
        kwargs = {"ledger_path": world.ledger_path, "skip_done": True}
        (first,) = erase_all(con, [request], **kwargs)
        (again,) = erase_all(con, [request], **kwargs)
    finally:
        con.close()
    assert not first.skipped and first.rows_removed > 0
    assert again.skipped
    assert query(world, "select count(*) from privacy.erasure_audit")[0][0] == 1


def test_a_person_never_seen_is_still_put_on_the_forget_list(world: World) -> None:
    outcome = erase_person(world, email="nobody@example.com")
    assert outcome.rows_removed == 0
    assert query(world, "select key_kind, key_hash from privacy.forget_list") == [
        ("email", key_hash("email", "nobody@example.com"))
    ]


def test_a_store_registered_for_erasure_is_cleared_with_every_address_and_id_and_counted_in_the_audit(
    world: World,
) -> None:
    # Guards the extension point that replaced erasure's own import of the local sink: another store
    # holding copies of addresses gets every address and id the person had, and its rows are counted
    # in the audit row under its name.
    asked: list[tuple[list[str], list[str]]] = []

    def crm_copies(emails: list[str], customer_ids: list[str], phones: list[str]) -> int:
        asked.append((list(emails), list(customer_ids)))
        return 4

    request = make_request(ALICE, None, requested_by="dpo", source="cli")
    con = duckdb.connect(str(world.warehouse))
    try:
        outcome = erase(con, request, ledger_path=world.ledger_path, other_stores={"crm.copies": crm_copies})
    finally:
        con.close()
    assert asked == [(sorted({ALICE_OLD, ALICE_NEW}), [ALICE])]
    assert outcome.rows_removed_by_table["crm.copies"] == 4
    (audited,) = query(world, "select rows_removed_by_table from privacy.erasure_audit")[0]
    assert json.loads(audited)["crm.copies"] == 4


def test_the_local_sink_is_registered_as_an_erasure_store() -> None:
    # Guards the privacy promise for the demo and the tests: the development package declares its
    # store under the product's entry point group, so erasure clears it without importing it.
    assert registered_stores()[SINK_TABLE] is erase_recipients
