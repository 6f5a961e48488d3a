"""The stages' tables published by run date for Spark's readers, without starting Spark.

tests/spark/test_daily_job_spark.py checks the same folders after a real daily run on Spark, read
by Spark itself.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest

from reengage.schema.declared import (
    CAMPAIGN_RESULTS,
    CAMPAIGN_SENDS,
    CHURN_SCORES,
    DECISIONS,
    INTERVENTION_LIST,
)
from reengage.schema.migrations import migrate
from reengage.spark.day_folders import PUBLISHED as RECORD
from reengage.spark.stage_export import DAY_COLUMN, PUBLISHED, export_stage_tables, stage_table_folder

DAYS = [date(2026, 3, 1), date(2026, 3, 2)]


def published_rows(folder: Path) -> str:
    files = (folder / f"{DAY_COLUMN}=*" / "*.parquet").as_posix()
    # the run date's type named, as a reader does: a table whose only folder is the null day's says none
    return f"read_parquet('{files}', hive_partitioning = true, hive_types = {{'{DAY_COLUMN}': date}})"


def day_files(folder: Path) -> dict[str, int]:
    """{run date folder: its file's modification time}: which run dates an export wrote again."""
    return {day.name: (day / "part-0.parquet").stat().st_mtime_ns for day in folder.glob(f"{DAY_COLUMN}=*")}


@pytest.fixture
def con(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    con.execute("set timezone = 'UTC'")
    migrate(con)
    for day in DAYS:
        for n in range(3):
            con.execute(CHURN_SCORES.insert_values(), [f"c{n}", day, 0.1 * n, "churn-1"])
    con.execute(
        DECISIONS.insert_values(
            ["run_date", "customer_id", "campaign_id", "channel", "outcome", "reason", "priority"]
        ),
        [DAYS[0], "c1", "nudge", "email", "treatment", "selected", 1],
    )
    # a row without a run date (the column allows it) is written to a folder of its own
    con.execute(
        CAMPAIGN_RESULTS.insert_values(["run_date", "campaign_id", "channel", "variant", "arm", "assigned"]),
        [None, "nudge", "email", "control", "treatment", 4],
    )
    con.execute(
        CAMPAIGN_RESULTS.insert_values(["run_date", "campaign_id", "channel", "variant", "arm", "assigned"]),
        [DAYS[1], "nudge", "email", "control", "holdout", 2],
    )
    con.execute("create schema if not exists delivery")  # made by the first delivery, as in a real run
    con.execute(CAMPAIGN_SENDS.ddl())
    yield con
    con.close()


def test_every_published_table_is_written_by_run_date_with_the_columns_and_rows_duckdb_holds(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    stages = tmp_path / "stages"
    exports = export_stage_tables(con, stages)
    assert set(exports) == {t.name for t in PUBLISHED}
    assert exports[CHURN_SCORES.name].rows == 6 and exports[CHURN_SCORES.name].days_written == 2
    assert day_files(stage_table_folder(stages, CHURN_SCORES)).keys() == {f"run_date={d}" for d in DAYS}
    for table in PUBLISHED:
        written = published_rows(stage_table_folder(stages, table))
        columns = table.column_list()
        described = con.execute(f"describe select {columns} from {written}").fetchall()
        declared = con.execute(f"describe {table.name}").fetchall()
        assert [(n, t) for n, t, *_ in described] == [(n, t) for n, t, *_ in declared], table.name
        stored, exported = f"select {columns} from {table.name}", f"select {columns} from {written}"
        difference = f"({stored} except all {exported}) union all ({exported} except all {stored})"
        assert con.execute(difference).fetchall() == [], table.name
    results = stage_table_folder(stages, CAMPAIGN_RESULTS)
    assert (results / "run_date=__HIVE_DEFAULT_PARTITION__").is_dir()
    # an empty table is a placeholder file Spark learns the columns from
    empty = [t for t in PUBLISHED if exports[t.name].rows == 0]
    assert empty and all((stage_table_folder(stages, t) / "run_date=1970-01-01").is_dir() for t in empty)


def test_only_the_run_dates_a_stage_rewrote_are_written_again(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    stages = tmp_path / "stages"
    export_stage_tables(con, stages)
    folder = stage_table_folder(stages, CHURN_SCORES)
    before = day_files(folder)
    again = export_stage_tables(con, stages)
    assert {(e.days_written, e.days_removed) for e in again.values()} == {(0, 0)}
    assert day_files(folder) == before
    # a rerun of the second day scores differently; the first day is untouched
    con.execute("update scoring.churn_scores set churn_probability = 0.9 where run_date = ?", [DAYS[1]])
    third = export_stage_tables(con, stages)[CHURN_SCORES.name]
    assert (third.days_written, third.days_removed) == (1, 0)
    now = day_files(folder)
    assert now[f"run_date={DAYS[0]}"] == before[f"run_date={DAYS[0]}"]
    assert now[f"run_date={DAYS[1]}"] != before[f"run_date={DAYS[1]}"]
    assert con.execute(f"select max(churn_probability) from {published_rows(folder)}").fetchone() == (0.9,)
    # a run date gone from the table goes from the folder; nothing but days and the record is left
    con.execute("delete from scoring.churn_scores where run_date = ?", [DAYS[0]])
    assert export_stage_tables(con, stages)[CHURN_SCORES.name].days_removed == 1
    assert {p.name for p in folder.iterdir()} == {f"run_date={DAYS[1]}", RECORD}


def test_no_contact_or_message_content_is_published(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    # The lake outlives nothing an erasure misses, but it is read by more people: addresses, phone
    # numbers, names, message content and providers' error text stay in the DuckDB file.
    stages = tmp_path / "stages"
    export_stage_tables(con, stages)
    personal = {"contact", "email", "phone", "first_name", "subject", "body", "template_data", "last_error"}
    assert all(not personal & set(t.names) for t in PUBLISHED)
    published = {f"{s.name}.{t.name}" for s in stages.iterdir() for t in s.iterdir()}
    assert published == {t.name for t in PUBLISHED}
    assert INTERVENTION_LIST.name not in published and CAMPAIGN_SENDS.name not in published
