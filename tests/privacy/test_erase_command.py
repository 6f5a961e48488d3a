"""`python -m orchestration.cli erase`: the command an operator runs, on the files REENGAGE_HOME names."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from privacy_world import ALICE, ALICE_NEW, ALICE_OLD, World, build_world

from orchestration import settings
from orchestration.cli import main
from orchestration.settings import REPO_ROOT


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
        [sys.executable, "-m", "orchestration.cli", "erase", "--customer-id", ALICE],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "row(s) removed or blanked" in done.stdout
    assert len(audit_rows(world)) == 1
