"""A history load: many days loaded one after another, each in its own transaction, with the
warehouse file checkpointed far less often than DuckDB's default (loader.checkpoints_spaced)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from reengage.defs.ingest.loader import checkpoints_spaced, load_day
from reengage.defs.ingest.reader import IngestError

FIRST = date(2026, 3, 1)
HEADER = "event_id,user_id,anonymous_id,event_name,event_ts,page,product_id,category,value,device,channel"


def land_days(landing: Path, days: int) -> list[date]:
    dates = [FIRST + timedelta(days=n) for n in range(days)]
    for day in dates:
        rows = [f"{day}-{n},u{n},a{n},page_view,{day}T08:00:{n:02d}Z,/p,,,1.5,web,organic" for n in range(50)]
        path = landing / "events" / f"events_{day}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join([HEADER, *rows]) + "\n")
    return dates


def threshold(con: duckdb.DuckDBPyConnection) -> str:
    return con.execute("select current_setting('checkpoint_threshold')").fetchone()[0]


def test_every_day_of_a_history_load_is_stored_and_the_checkpoint_threshold_is_restored(
    tmp_path: Path,
) -> None:
    """Guards a history load's days being lost with the write-ahead log they wait in, or its checkpoint
    threshold staying on the warehouse connection after the load."""
    dates = land_days(tmp_path / "landing", 5)
    warehouse = str(tmp_path / "warehouse.duckdb")
    with duckdb.connect(warehouse) as con:
        default = threshold(con)
        with checkpoints_spaced(con):
            assert threshold(con) != default
            for day in dates:
                load_day(con, str(tmp_path / "landing"), "events", day)
        assert threshold(con) == default
    with duckdb.connect(warehouse) as con:  # reopened: what the log held was checkpointed or replayed
        per_day = con.execute(
            "select _partition_date, count(*) from raw.events group by 1 order by 1"
        ).fetchall()
    assert per_day == [(day, 50) for day in dates]


def test_a_refused_day_ends_a_history_load_with_the_days_before_it_stored_and_the_threshold_restored(
    tmp_path: Path,
) -> None:
    """Guards a refusal leaving the spaced checkpoints on, or taking the days loaded before it along."""
    landing = tmp_path / "landing"
    dates = land_days(landing, 3)
    (landing / "events" / f"events_{dates[1]}.csv").write_text("event_id;user_id\ne1;u1\n")
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        default = threshold(con)
        with pytest.raises(IngestError, match="semicolon-separated"), checkpoints_spaced(con):
            for day in dates:
                load_day(con, str(landing), "events", day)
        assert threshold(con) == default
        stored = con.execute("select distinct _partition_date from raw.events").fetchall()
    assert stored == [(dates[0],)]
