"""Each vendor format's sample export through the real command line: a team declares its events'
format as docs/formats.md says and checks its exports; one such team also backfills its day and
finds its visitors' sessions in marts.fct_sessions. Every format's rows as loaded are checked field
by field in tests/ingest/test_event_formats.py, and every format's sample is built into sessions by
one dbt build in tests/warehouse/test_event_formats_sessions.py: a backfill per format (about a
minute each) would build the same models six times. The samples' days (2013 to 2023) are before
the suite's first day, so each team's commands run in processes of their own, as the team runs
them.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pytest
from cli_world import reengage_in, vendor_team

from tests.format_samples import FORMAT_SAMPLES


def checked_rows(folder, fmt: str) -> tuple[date, int]:
    """`fmt`'s team set up and its exports checked: the day and the sample's rows, every one of which
    would load."""
    day, name = vendor_team(folder, fmt)
    check = reengage_in(folder, "check-exports", "landing")
    assert check.returncode == 0, check.stdout + check.stderr
    rows = next(line for line in check.stdout.splitlines() if line.startswith(f"events/{name}: "))
    read = int(rows.split(": ")[1].split()[0])
    read_rows = "1 row" if read == 1 else f"{read} rows"
    assert read > 0 and rows.endswith(f"{read_rows} read, {read} would load, 0 would be refused")
    return day, read


BACKFILLED = "rudderstack"  # a CSV file with identify calls, which link ids and are no events


@pytest.mark.parametrize("fmt", [fmt for fmt in FORMAT_SAMPLES if fmt != BACKFILLED])
def test_a_vendor_export_declared_in_format_yml_is_checked_from_the_command_line(tmp_path, fmt) -> None:
    # Guards the promise that a team with exports in any supported format can check them before a
    # load from the command line alone (the backfilled format is checked first below): every row of
    # the sample would load, none refused.
    checked_rows(tmp_path, fmt)


@pytest.mark.e2e
def test_a_vendor_export_is_backfilled_from_the_command_line_and_becomes_sessions(tmp_path) -> None:
    # Guards the promise that such a team builds its own data from the command line alone: every
    # row of the sample loads (none refused), and every loaded event is in a session of its day,
    # but identify calls, which only link ids.
    day, read = checked_rows(tmp_path, BACKFILLED)
    backfill = reengage_in(tmp_path, "backfill", "--from", str(day), "--to", str(day))
    assert backfill.returncode == 0, backfill.stdout + backfill.stderr
    assert f"  {day}  ok      loaded customers 1, events {read}, email_events 0; refused 0" in backfill.stdout
    with duckdb.connect(str(tmp_path / "home" / "warehouse.duckdb"), read_only=True) as con:
        sessions, events = con.execute(
            "select count(*), sum(event_count) from marts.fct_sessions where session_date = ?", [day]
        ).fetchone()
        (identifies,) = con.execute(
            "select count(*) from raw.events where event_name = 'identify'"
        ).fetchone()
    assert sessions > 0 and events == read - identifies
    assert identifies == 2
