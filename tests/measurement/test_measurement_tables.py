"""The day's experiment tables in the warehouse: one set of rows per run date, in the declared types."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from reengage.defs.measurement.analysis import (
    MeasurementTables,
    analyse,
    read_tables,
    settings_of,
    write_tables,
)
from reengage.defs.measurement.config import MeasurementConfig
from reengage.defs.measurement.outcomes import compute_outcomes
from reengage.warehouse import connect

from .measurement_world import PLANS, RUN_DATE, TARGETS

DAY1, DAY2 = RUN_DATE - timedelta(days=1), RUN_DATE
# Each frame of the day and the table that stores it.
TABLE_OF_FRAME = {
    "summary": "measurement.campaign_summary",
    "comparisons": "measurement.campaign_comparisons",
    "srm": "measurement.campaign_srm",
    "guardrails": "measurement.guardrail_metrics",
    "pauses": "measurement.campaign_guardrails",
    "daily": "measurement.campaign_daily",
    "settings": "measurement.campaign_settings",
}
# The spammy campaign's unsubscribe limit raised: the same day analysed again gives other rows.
RELAXED = MeasurementConfig(campaign_limits={"spammy": {"max_unsubscribe_rate": 0.2}})


@pytest.fixture(scope="module")
def days(world_db: Path) -> dict:
    """(outcomes, tables) of two consecutive run dates of the synthetic world."""
    with duckdb.connect(str(world_db), read_only=True) as con:
        outcomes = {day: compute_outcomes(con, day, TARGETS) for day in (DAY1, DAY2)}
    return {day: (o, analyse(o, PLANS, day, MeasurementConfig())) for day, o in outcomes.items()}


@pytest.fixture
def first_day_written(days: dict, world_db: Path, tmp_path: Path) -> Iterator[tuple]:
    """(connection, the first run date's stored rows) of a copy of the world with that day written."""
    path = tmp_path / "warehouse.duckdb"
    shutil.copy(world_db, path)
    outcomes, tables = days[DAY1]
    with connect(path) as con:
        write_tables(con, tables, outcomes)
        first = stored(con, DAY1)
        assert all(first.values()), "the first day has rows in every table"
        yield con, first


def stored(con: duckdb.DuckDBPyConnection, day) -> dict[str, list[tuple]]:
    """Every measurement table's rows of `day`, as text (so a NaN equals itself)."""
    sql = "select columns(*)::varchar from {} where run_date = ? order by all"
    return {table: con.execute(sql.format(table), [day]).fetchall() for table in TABLE_OF_FRAME.values()}


def counts(con: duckdb.DuckDBPyConnection, day) -> dict[str, int]:
    sql = "select count(*) from {} where run_date = ?"
    return {table: con.execute(sql.format(table), [day]).fetchone()[0] for table in TABLE_OF_FRAME.values()}


def lengths(tables: MeasurementTables) -> dict[str, int]:
    return {table: len(getattr(tables, frame)) for frame, table in TABLE_OF_FRAME.items()}


def test_a_second_run_date_keeps_the_first_and_rewriting_a_run_date_replaces_only_its_rows(
    days: dict, first_day_written: tuple
) -> None:
    # Guards the tables measurement recreated from each day's DataFrame: typed as pandas inferred
    # (run_date a timestamp, a decision date a double), and every earlier run date's rows dropped
    # whenever a frame's columns differed. Each run now replaces its own run date's rows in the
    # declared table.
    con, first = first_day_written
    outcomes, tables = days[DAY2]
    write_tables(con, tables, outcomes)
    assert stored(con, DAY1) == first, "the first run date's rows are kept"
    assert counts(con, DAY2) == lengths(tables)
    types = {
        (table, name): kind
        for table in TABLE_OF_FRAME.values()
        for name, kind, *_ in con.execute(f"describe {table}").fetchall()
    }
    dates = [key for key, kind in types.items() if kind == "DATE"]
    assert sorted(dates) == sorted(
        [(table, "run_date") for table in TABLE_OF_FRAME.values()]
        + [("measurement.campaign_comparisons", "seq_first_decision_date")]
        + [("measurement.campaign_daily", "assigned_date")]
    ), "the tables keep their declared types"

    relaxed = analyse(outcomes, PLANS, DAY2, RELAXED)
    written = write_tables(con, relaxed, outcomes)
    assert stored(con, DAY1) == first, "rewriting the second run date leaves the first alone"
    assert counts(con, DAY2) == lengths(relaxed), "one copy of the rewritten day"
    assert {table: written[table] for table in TABLE_OF_FRAME.values()} == lengths(relaxed)
    paused = (
        "select paused from measurement.campaign_guardrails where campaign_id = 'spammy' and run_date = ?"
    )
    assert con.execute(paused, [DAY2]).fetchall() == [(False,)]


@pytest.mark.parametrize(
    ("frame", "change", "named"),
    [
        (
            "summary",
            lambda df: df.drop(columns=["median_hours_to_click"]),
            "lack declared column(s) median_hours_to_click",
        ),
        ("comparisons", lambda df: df.assign(seq_alpha=0.05), "have undeclared column(s) seq_alpha"),
        ("daily", lambda df: df.drop(columns=["run_date"]), "lack declared column(s) run_date"),
    ],
)
def test_a_frame_whose_columns_differ_from_its_table_is_refused_and_nothing_stored_changes(
    days: dict,
    first_day_written: tuple,
    frame: str,
    change: Callable[[pd.DataFrame], pd.DataFrame],
    named: str,
) -> None:
    # Guards the silent loss of history: a frame with a column added or dropped used to replace the
    # table with that day's rows alone. Now the write stops, names the table and the columns, and
    # every stored row stays (the outcomes too: the day is written all or nothing).
    con, first = first_day_written
    outcomes, tables = days[DAY2]
    outcomes_before = con.execute("select count(*) from measurement.assignment_outcomes").fetchone()
    broken = MeasurementTables(**{**vars(tables), frame: change(getattr(tables, frame))})
    with pytest.raises(ValueError, match=re.escape(f"{TABLE_OF_FRAME[frame]} {named}")):
        write_tables(con, broken, outcomes)
    assert stored(con, DAY1) == first
    assert con.execute("select count(*) from measurement.assignment_outcomes").fetchone() == outcomes_before
    assert set(counts(con, DAY2).values()) == {0}, "nothing of the refused day is written"


def test_the_settings_each_campaign_was_measured_with_are_stored_with_its_day(
    days: dict, first_day_written: tuple
) -> None:
    # Guards a report that judged by the default settings whatever the measurement had run with.
    con, _ = first_day_written
    outcomes, _ = days[DAY2]
    own = MeasurementConfig(alpha=0.1, msprt_tau=0.03, min_per_arm=30)
    write_tables(con, analyse(outcomes, PLANS, DAY2, own), outcomes)
    stored_day = read_tables(con, DAY2)
    measured = set(outcomes["campaign_id"])
    assert measured and set(stored_day.settings["campaign_id"]) == measured
    for campaign in measured:
        used = settings_of(stored_day, campaign, MeasurementConfig())
        assert (used.alpha, used.msprt_tau, used.min_per_arm) == (0.1, 0.03, 30)
    assert settings_of(read_tables(con, DAY1), "nobody", own) is own, "a day without them keeps the fallback"
