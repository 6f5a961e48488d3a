"""A history load (loader.load_days): many days committed in groups, with the warehouse's checkpoints
spaced and two compression methods skipped while it runs; each day is what `load_day` makes it."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from reengage.defs.ingest import loader
from reengage.defs.ingest.loader import LoadReport, load_day, load_days
from reengage.defs.ingest.reader import IngestError

FIRST = date(2026, 3, 1)
HEADER = "event_id,user_id,anonymous_id,event_name,event_ts,page,product_id,category,value,device,channel"
SETTINGS = ("checkpoint_threshold", "disabled_compression_methods")


def land_days(landing: Path, days: int) -> list[date]:
    dates = [FIRST + timedelta(days=n) for n in range(days)]
    for day in dates:
        rows = [f"{day}-{n},u{n},a{n},page_view,{day}T08:00:{n:02d}Z,/p,,,1.5,web,organic" for n in range(50)]
        write_day(landing, day, [HEADER, *rows])
    return dates


def write_day(landing: Path, day: date, lines: list[str]) -> None:
    path = landing / "events" / f"events_{day}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def settings(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [con.execute(f"select current_setting('{name}')").fetchone()[0] for name in SETTINGS]


def stored(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute(
        "select _partition_date, _source_row, event_id, user_id, event_ts, value "
        "from raw.events order by 1, 2"
    ).fetchall()


def quarantined(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute(
        'select _partition_date, row, "column", reason from raw.quarantine order by 1, 2, 3'
    ).fetchall()


def summary(report: LoadReport) -> tuple:
    return (
        report.day,
        report.rows_read,
        report.rows_loaded,
        report.rows_quarantined,
        report.quarantine_reasons,
    )


def test_every_day_of_a_history_load_is_stored_and_the_settings_are_restored(tmp_path: Path) -> None:
    """Guards a history load's days being lost with the write-ahead log they wait in, or its settings
    staying on the warehouse connection after the load."""
    dates = land_days(tmp_path / "landing", 5)
    warehouse = str(tmp_path / "warehouse.duckdb")
    told: list[date] = []
    with duckdb.connect(warehouse) as con:
        default = settings(con)
        load_days(con, str(tmp_path / "landing"), "events", dates, loaded=lambda r: told.append(r.day))
        assert settings(con) == default
    assert told == dates  # each day told once, in order
    with duckdb.connect(warehouse) as con:  # reopened: what the log held was checkpointed or replayed
        per_day = con.execute(
            "select _partition_date, count(*) from raw.events group by 1 order by 1"
        ).fetchall()
    assert per_day == [(day, 50) for day in dates]


def test_a_refused_day_ends_a_history_load_with_the_days_before_it_in_its_group_stored(
    tmp_path: Path,
) -> None:
    """Guards the group's transaction taking the days loaded before a refused one along: the group is
    undone and its days loaded again one at a time, up to the refused one, which is raised."""
    landing = tmp_path / "landing"
    dates = land_days(landing, 4)
    write_day(landing, dates[2], ["event_id;user_id", "e1;u1"])
    told: list[date] = []
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        default = settings(con)
        with pytest.raises(IngestError, match="semicolon-separated"):
            load_days(con, str(landing), "events", dates, loaded=lambda r: told.append(r.day))
        assert settings(con) == default
        days = con.execute("select distinct _partition_date from raw.events order by 1").fetchall()
    assert days == [(dates[0],), (dates[1],)]
    assert told == dates[:2]


@pytest.mark.parametrize("group_rows", [1, 120, 10_000])
def test_a_history_load_stores_and_reports_what_loading_each_day_on_its_own_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, group_rows: int
) -> None:
    """Guards a group changing what a day loads: files DuckDB reads plainly beside ones it cannot (a
    stray quote DuckDB's reader refuses mid-group, a quoted line break, a blank line), bad rows and a
    key two rows share, in groups of one day, of a few days and of all of them."""
    landing = tmp_path / "landing"
    dates = land_days(landing, 6)
    write_day(landing, dates[1], [HEADER, f'e1,u1,a1,page_view,{dates[1]}T08:00:00Z,/p"x,,,1,web,organic'])
    write_day(
        landing,
        dates[2],
        [
            HEADER,
            f'e2,u1,a1,page_view,{dates[2]}T08:00:00Z,"/p',
            'q",,,1,web,organic',
            "e3,u2,,purchase,x,,,,,,",
        ],
    )
    write_day(landing, dates[3], [HEADER, f"e4,u1,a1,page_view,{dates[3]}T08:00:00Z,/p,,,1,web,organic", ""])
    write_day(
        landing,
        dates[4],
        [
            HEADER,
            f"dup,u1,a1,page_view,{dates[4]}T08:00:00Z,/p,,,1,web,organic",
            f"e5,u1,a1,page_view,{dates[4]}T08:00:01Z,/p,,,-1e99,web,organic",
            f"dup,u2,a2,page_view,{dates[4]}T09:00:00Z,/q,,,2,web,organic",
            f"e6, u3 ,a3,page_view,{dates[4]}T10:00:00Z,/p,,,1,web,organic",
        ],
    )
    with duckdb.connect(str(tmp_path / "each.duckdb")) as con:
        each = [summary(load_day(con, str(landing), "events", day)) for day in dates]
        expected_rows, expected_quarantine = stored(con), quarantined(con)
    monkeypatch.setattr(loader, "GROUP_ROWS", group_rows)
    with duckdb.connect(str(tmp_path / "history.duckdb")) as con:
        history = [summary(r) for r in load_days(con, str(landing), "events", dates)]
        assert stored(con) == expected_rows
        assert quarantined(con) == expected_quarantine
    assert history == each
    assert each[4][2:4] == (3, 1)  # the shared key's second row refused, -1e99 set to null, e6 stripped
