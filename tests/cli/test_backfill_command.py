"""`reengage backfill --from A --to B`: past days through the backfill job, a line per day, never mail."""

from __future__ import annotations

from datetime import timedelta

import duckdb
import pytest
from cli_world import DAY, reengage, world

FIRST = DAY - timedelta(days=3)


@pytest.mark.e2e
def test_a_backfill_prints_a_line_per_day_and_a_summary_and_a_second_one_changes_nothing(
    isolated_home, capsys
) -> None:
    # Guards the missing history command, and its resumability: the same range again
    # replaces each day's rows (never doubles them) and exits 0.
    world(isolated_home, days=4)
    code, out, err = reengage(capsys, "backfill", "--from", FIRST.isoformat(), "--to", DAY.isoformat())
    assert code == 0, out + err
    days = [line for line in out.splitlines() if line.startswith("  2026-03-")]
    assert [line.split()[0] for line in days] == [str(FIRST + timedelta(days=n)) for n in range(4)]
    assert all(line.split()[1] == "ok" and "loaded customers " in line for line in days)
    with duckdb.connect(str(isolated_home / "warehouse.duckdb"), read_only=True) as con:
        events = con.execute("select count(*) from raw.events").fetchone()[0]
        sessions = con.execute("select count(*) from marts.fct_sessions").fetchone()[0]
        sends = con.execute(
            "select count(*) from information_schema.tables where table_name = 'campaign_sends'"
        ).fetchone()[0]
    assert sessions > 0 and sends == 0, "dbt built the range; nothing was delivered"
    summary = [line for line in out.splitlines() if line.startswith(f"Backfill {FIRST} to {DAY}: ")]
    assert summary and "4 days, " in summary[0] and summary[0].endswith("no failures")
    assert "In the Dagster UI: http://127.0.0.1:3000/runs/" in out

    code, again, _ = reengage(capsys, "backfill", "--from", FIRST.isoformat(), "--to", DAY.isoformat())
    assert code == 0
    assert [line for line in again.splitlines() if line.startswith(f"Backfill {FIRST}")] == summary
    with duckdb.connect(str(isolated_home / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("select count(*) from raw.events").fetchone()[0] == events


def test_a_backfill_with_a_refused_file_exits_one_naming_the_first_failure(isolated_home, capsys) -> None:
    # Guards a failed day hiding in a long backfill: the summary names the first failure.
    landing = world(isolated_home, days=2)
    path = landing / "customers" / f"customers_{DAY}.csv"
    path.write_text(path.read_text().replace(",", ";"))
    first = (DAY - timedelta(days=1)).isoformat()
    code, out, _ = reengage(capsys, "backfill", "--from", first, "--to", DAY.isoformat())
    assert code == 1
    summary = next(line for line in out.splitlines() if line.startswith(f"Backfill {first} to "))
    assert ", 1 failure; the first: " in summary and f"customers_{DAY}.csv" in summary
    assert "  ingest        FAILED" in out


def test_a_range_that_ends_before_it_starts_is_one_line_and_exit_two(isolated_home, capsys) -> None:
    # Guards an empty range running nothing and reporting success.
    world(isolated_home, days=1)
    code, out, err = reengage(capsys, "backfill", "--from", str(DAY), "--to", str(FIRST))
    assert code == 2 and out == ""
    assert err.strip() == f"reengage backfill: --from {DAY} is after --to {FIRST}"
