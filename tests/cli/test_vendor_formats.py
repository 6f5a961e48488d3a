"""Each vendor format's sample export through the real command line into sessions: a team declares
its events' format as docs/formats.md says, checks its exports, backfills the day, and finds its
visitors' sessions in marts.fct_sessions. The samples' days (2013 to 2023) are before the suite's
first day, so each team's commands run in processes of their own, as the team runs them.
"""

from __future__ import annotations

import duckdb
import pytest
from cli_world import FORMAT_SAMPLES, reengage_in, vendor_team


@pytest.mark.e2e
@pytest.mark.parametrize("fmt", list(FORMAT_SAMPLES))
def test_a_vendor_export_declared_in_format_yml_is_checked_backfilled_and_becomes_sessions(
    tmp_path, fmt
) -> None:
    # Guards the promise that a team with exports in any supported format can check, backfill and
    # build its own data from the command line alone: every row of the sample loads (none refused),
    # and every loaded event is in a session of its day.
    day, name = vendor_team(tmp_path, fmt)
    check = reengage_in(tmp_path, "check-exports", "landing")
    assert check.returncode == 0, check.stdout + check.stderr
    rows = next(line for line in check.stdout.splitlines() if line.startswith(f"events/{name}: "))
    read = int(rows.split(": ")[1].split()[0])
    assert read > 0 and rows.endswith(f"{read} rows read, {read} would load, 0 would be refused")

    backfill = reengage_in(tmp_path, "backfill", "--from", str(day), "--to", str(day))
    assert backfill.returncode == 0, backfill.stdout + backfill.stderr
    assert f"  {day}  ok      loaded customers 1, events {read}, email_events 0; refused 0" in backfill.stdout
    with duckdb.connect(str(tmp_path / "home" / "warehouse.duckdb"), read_only=True) as con:
        sessions, events = con.execute(
            "select count(*), sum(event_count) from marts.fct_sessions where session_date = ?", [day]
        ).fetchone()
    assert sessions > 0 and events == read
