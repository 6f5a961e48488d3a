"""`python -m reengage.cli erase`: the command an operator runs, on the files REENGAGE_HOME names."""

from __future__ import annotations

import re
import subprocess
import sys
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
    World,
    build_world,
    files_holding,
)

from reengage import settings
from reengage.cli import main
from reengage.defs.delivery.ledger import SendLedger
from reengage.privacy.keys import PEPPER_ENV
from reengage.settings import REPO_ROOT
from reengage_dev.sink.store import SinkStore


@pytest.fixture
def world(isolated_home: Path) -> World:
    return build_world(isolated_home)


def audit_rows(world: World) -> list[tuple]:
    con = duckdb.connect(str(world.warehouse), read_only=True)
    try:
        return con.execute(
            "select request_id, requested_by, rows_removed from privacy.erasure_audit"
        ).fetchall()
    finally:
        con.close()


def test_erase_by_email_prints_counts_but_no_identifier(world: World, capsys: pytest.CaptureFixture) -> None:
    assert settings.warehouse_path() == world.warehouse
    code = main(["erase", "--email", ALICE_NEW, "--requested-by", "dpo", "--request-id", "T-1"])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "request T-1" in out.out and "raw.customers 2" in out.out
    for value in (ALICE, ALICE_OLD, ALICE_NEW):
        assert not re.search(rf"(?<![\w.@-]){re.escape(value)}(?![\w.@-])", out.out + out.err), value
    assert audit_rows(world)[0][:2] == ("T-1", "dpo")


def test_erase_from_a_file_skips_lines_already_carried_out(world: World, tmp_path: Path, capsys) -> None:
    requests = tmp_path / "requests.csv"
    requests.write_text(f"customer_id,requested_by\n{ALICE},ticket-9\n")
    assert main(["erase", "--file", str(requests)]) == 0
    assert main(["erase", "--file", str(requests)]) == 0
    out = capsys.readouterr().out
    assert "already carried out, skipped" in out
    assert len(audit_rows(world)) == 1


def test_a_bad_request_file_erases_nobody_and_names_file_row_and_column(
    world: World, tmp_path: Path, capsys
) -> None:
    requests = tmp_path / "requests.csv"
    requests.write_text(f"customer_id,email\n{ALICE},\n,bad-address\n")
    assert main(["erase", "--file", str(requests)]) == 1
    err = capsys.readouterr().err
    assert f"{requests}: row 2, column email: not a valid email address" in err
    con = duckdb.connect(str(world.warehouse), read_only=True)
    try:
        assert con.execute(
            "select count(*) from raw.customers where customer_id = ?", [ALICE]
        ).fetchall() == [(2,)]
    finally:
        con.close()


def test_the_module_entry_point_runs_as_a_real_process(world: World) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "reengage.cli", "erase", "--customer-id", ALICE],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "row(s) removed or blanked" in done.stdout
    assert len(audit_rows(world)) == 1


def test_after_erase_no_file_in_the_home_holds_the_person_as_bytes(world: World, capsys) -> None:
    # Guards the DuckDB file keeping deleted rows in freed blocks: SQL found nothing, but `grep -a`
    # still found Alice's id, addresses and name (her quarantined CRM record among them); her phone
    # number was not erased at all (no identifier kind held it).
    alice = {
        "customer id": rb"cus_1(?![0-9])",  # cus_10 is Bob
        "old address": re.escape(ALICE_OLD).encode(),
        "new address": re.escape(ALICE_NEW).encode(),
        "first name": b"Alice",
        "own device": re.escape(ALICE_PHONE).encode(),
        "own number": re.escape(ALICE_MOBILE).encode(),
    }
    # The landing folder is the customer's own exports: theirs to purge (docs/privacy.md).
    before = files_holding([world.home], alice, skip=(world.landing,))
    assert any(hit.startswith("warehouse.duckdb:") for hit in before), before
    assert main(["erase", "--email", ALICE_OLD]) == 0
    assert files_holding([world.home], alice, skip=(world.landing,)) == []
    assert "warehouse file rewritten" in capsys.readouterr().out
    assert files_holding([world.home], {"Bob": re.escape(BOB_EMAIL).encode()}), "the search sees who is there"
    con = duckdb.connect(str(world.warehouse), read_only=True)
    try:
        (stamped,) = con.execute("select file_rewritten_at from privacy.erasure_audit").fetchall()[0]
        assert stamped is not None
        assert con.execute("select count(*) from raw.customers").fetchall() == [(2,)]  # Bob and Carol
    finally:
        con.close()


def untouched(world: World, customer_id: str, email: str) -> bool:
    """The person is still in the warehouse, the ledger and the sink, as before any erasure."""
    con = duckdb.connect(str(world.warehouse), read_only=True)
    try:
        (rows,) = con.execute(
            "select count(*) from raw.customers where customer_id = ?", [customer_id]
        ).fetchall()[0]
    finally:
        con.close()
    ledger = {r.customer_id for r in SendLedger(world.ledger_path).rows()}
    sink = {m.email for m in SinkStore(world.sink_path).messages()}
    return rows > 0 and customer_id in ledger and email in sink


def test_erasure_refuses_to_run_without_a_pepper(world: World, monkeypatch, capsys) -> None:
    # Guards the built-in default pepper: the erasure went ahead and listed keys under a value
    # anybody can read in the source, which any later run with a real pepper would not match.
    monkeypatch.delenv(PEPPER_ENV)
    assert main(["erase", "--customer-id", ALICE]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"FAILED: {PEPPER_ENV} is not set") and err.count("\n") == 1
    assert untouched(world, ALICE, ALICE_OLD)


def test_erasure_with_another_pepper_than_the_forget_lists_touches_nothing(
    world: World, monkeypatch, capsys
) -> None:
    # The ledger and the sink are erased before the warehouse: the pepper is checked before either.
    assert main(["erase", "--customer-id", ALICE]) == 0
    monkeypatch.setenv(PEPPER_ENV, "a-new-secret")
    assert main(["erase", "--email", BOB_EMAIL]) == 1
    assert "is not the pepper privacy.forget_list was made with" in capsys.readouterr().err
    assert untouched(world, BOB, BOB_EMAIL)
