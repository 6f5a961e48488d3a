"""The `spark` warehouse kind without starting Spark: its settings, its folders, the raw export.

REENGAGE_WAREHOUSE_KIND=spark points dbt at the profile's `spark` output; the Python stages keep
their own tables in the DuckDB file and read Spark's through views (test_spark_views.py). The raw
tables reach Spark as Parquet files, a folder per load day, written when the day's rows change.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import duckdb
import pytest

from reengage import settings, warehouse
from reengage.spark.layout import SparkLayout, dbt_environment, spark_layout
from reengage.spark.parquet_tables import MissingSparkTable, table_scan
from reengage.spark.raw_export import export_raw_warehouse
from tests.warehouse.raw_world import create_raw_warehouse, insert_partitions, raw_tables


def test_the_spark_kind_builds_with_the_spark_target_and_the_python_stages_open_their_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The stages keep their own tables in the DuckDB file on Spark too, and say so with the Spark home.
    monkeypatch.setenv("REENGAGE_WAREHOUSE_KIND", "spark")
    monkeypatch.setenv("REENGAGE_SPARK_HOME", str(tmp_path / "spark"))
    assert settings.dbt_target() == "spark"
    with warehouse.connect(tmp_path / "warehouse.duckdb") as con:
        assert con.execute("select count(*) from interventions.decisions").fetchone() == (0,)
    described = warehouse.describe(tmp_path / "warehouse.duckdb")
    assert (
        described
        == f"{tmp_path / 'warehouse.duckdb'}, with views over the Spark tables under {tmp_path / 'spark'}"
    )
    monkeypatch.setenv("REENGAGE_DBT_TARGET", "dev")
    with pytest.raises(
        settings.SettingsError, match="builds the duckdb warehouse but REENGAGE_WAREHOUSE_KIND"
    ):
        settings.warehouse_kind()


def test_the_profiles_variables_come_from_the_settings(
    monkeypatch: pytest.MonkeyPatch, isolated_home: Path
) -> None:
    assert spark_layout() == SparkLayout(isolated_home / "spark")
    assert dbt_environment() == {
        "REENGAGE_SPARK_HOME": str(isolated_home / "spark"),
        "REENGAGE_SPARK_MASTER": "local[2]",
        "REENGAGE_SPARK_DRIVER_MEMORY": "2g",
        "REENGAGE_SPARK_THREADS": "1",
    }
    monkeypatch.setenv("REENGAGE_SPARK_MASTER", "spark://spark-master:7077")
    monkeypatch.setenv("REENGAGE_SPARK_THREADS", "8")
    assert dbt_environment()["REENGAGE_SPARK_MASTER"] == "spark://spark-master:7077"
    assert dbt_environment()["REENGAGE_SPARK_THREADS"] == "8"


@pytest.mark.parametrize("threads, shown", [("0", "0"), ("-2", "-2"), ("two", "'two'")])
def test_spark_threads_below_one_or_no_number_are_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, isolated_home: Path, threads: str, shown: str
) -> None:
    monkeypatch.setenv("REENGAGE_SPARK_THREADS", threads)
    refusal = f"REENGAGE_SPARK_THREADS={shown} is not a whole number from 1"
    with pytest.raises(settings.SettingsError, match=re.escape(refusal)):
        dbt_environment()


def exported_days(table_dir: Path) -> dict[str, float]:
    """{day folder: the modification time of its file}: which days an export wrote again."""
    return {
        day.name: (day / "part-0.parquet").stat().st_mtime_ns for day in table_dir.glob("_partition_date=*")
    }


def read_export(con: duckdb.DuckDBPyConnection, table_dir: Path) -> str:
    files = (table_dir / "_partition_date=*" / "*.parquet").as_posix()
    return f"read_parquet('{files}', hive_partitioning = true)"


def test_every_raw_table_is_exported_by_load_day_and_an_export_writes_only_the_days_that_changed(
    tmp_path: Path,
) -> None:
    # Guards the raw export's cost and its truth: it wrote every table whole before every build, so
    # a year of events was written again for each day; now a day is written when its rows change.
    source = tmp_path / "warehouse.duckdb"
    create_raw_warehouse(source, last_partition="2026-01-06")
    raw_dir = tmp_path / "spark" / "raw"
    first = export_raw_warehouse(source, raw_dir)
    assert set(first) == set(raw_tables())
    events = raw_dir / "events"
    days = exported_days(events)
    assert first["events"].days_written == len(days) > 2 and first["events"].days_removed == 0

    again = export_raw_warehouse(source, raw_dir)
    assert (again["events"].days_written, again["events"].days_removed) == (0, 0)
    assert exported_days(events) == days, "an unchanged day was written again"

    con = duckdb.connect(str(source))
    try:
        con.execute("set timezone = 'UTC'")
        insert_partitions(con, raw_tables(), first="2026-01-07", last="2026-01-07")  # the next day lands
        changed = con.execute("select min(_partition_date) from raw.events").fetchone()[0]
        con.execute("update raw.events set event_name = 'session_start' where _partition_date = ?", [changed])
        gone = con.execute("select max(_partition_date) from raw.events where _partition_date < '2026-01-07'")
        gone = gone.fetchone()[0]
        con.execute("delete from raw.events where _partition_date = ?", [gone])  # a day reloaded empty
    finally:
        con.close()
    third = export_raw_warehouse(source, raw_dir)
    assert (third["events"].days_written, third["events"].days_removed) == (2, 1)
    now = exported_days(events)
    assert set(now) == set(days) - {f"_partition_date={gone}"} | {"_partition_date=2026-01-07"}
    assert now[f"_partition_date={changed}"] != days[f"_partition_date={changed}"]
    untouched = set(days) - {f"_partition_date={changed}", f"_partition_date={gone}"}
    assert {d: now[d] for d in untouched} == {d: days[d] for d in untouched}
    # nothing but the days and the record: no staging or old folder left where Spark looks
    assert sorted(p.name for p in raw_dir.iterdir()) == sorted(raw_tables())
    assert {p.name for p in events.iterdir()} == set(now) | {"_published.json"}

    con = duckdb.connect(str(source), read_only=True)
    try:
        con.execute("set timezone = 'UTC'")
        # every row and every column as DuckDB has it (the day from the folder names, as a date)
        for table in raw_tables():
            exported = read_export(con, raw_dir / table)
            columns = ", ".join(f'"{name}"' for name, *_ in con.execute(f"describe raw.{table}").fetchall())
            described = con.execute(f"describe select {columns} from {exported}").fetchall()
            declared = con.execute(f"describe raw.{table}").fetchall()
            assert [(n, t) for n, t, *_ in described] == [(n, t) for n, t, *_ in declared], table
            stored, written = f"select {columns} from raw.{table}", f"select {columns} from {exported}"
            difference = f"({stored} except all {written}) union all ({written} except all {stored})"
            assert con.execute(difference).fetchall() == [], table
    finally:
        con.close()


def test_an_empty_raw_table_is_one_empty_file_in_a_placeholder_day_that_goes_when_rows_come(
    tmp_path: Path,
) -> None:
    source = tmp_path / "warehouse.duckdb"
    create_raw_warehouse(source, last_partition="2026-01-06")
    con = duckdb.connect(str(source))
    try:
        con.execute("delete from raw.products")
    finally:
        con.close()
    raw_dir = tmp_path / "raw"
    assert export_raw_warehouse(source, raw_dir)["products"].rows == 0
    placeholder = raw_dir / "products" / "_partition_date=1970-01-01" / "part-0.parquet"
    con = duckdb.connect()
    # Spark takes the columns from it, with the day from the folder name
    file = f"read_parquet('{placeholder.as_posix()}', hive_partitioning = false)"
    described = con.execute(f"describe select * from {file}").fetchall()
    assert [name for name, *_ in described] and "_partition_date" not in [name for name, *_ in described]
    assert con.execute(f"select count(*) from {file}").fetchone() == (0,)
    con.close()
    create_raw_warehouse(tmp_path / "full.duckdb", last_partition="2026-01-06")
    shutil.copyfile(tmp_path / "full.duckdb", source)
    export = export_raw_warehouse(source, raw_dir)["products"]
    assert export.rows > 0 and export.days_removed == 1 and not placeholder.parent.exists()


def test_a_view_or_an_unbuilt_table_has_no_parquet_to_read(tmp_path: Path) -> None:
    with pytest.raises(MissingSparkTable, match="staging.stg_product__events: no Parquet file"):
        table_scan(SparkLayout(tmp_path), "staging", "stg_product__events")
