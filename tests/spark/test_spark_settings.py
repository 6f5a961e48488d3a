"""The `spark` warehouse kind without starting Spark: its settings, its folders, the raw export.

REENGAGE_WAREHOUSE_KIND=spark points dbt at the profile's `spark` output; the Python stages keep
their own tables in the DuckDB file and read Spark's through views (test_spark_views.py). The raw
tables reach Spark as Parquet files, one per table, written whole.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from reengage import settings, warehouse
from reengage.spark.layout import SparkLayout, dbt_environment, spark_layout
from reengage.spark.parquet_tables import MissingSparkTable, table_scan
from reengage.spark.raw_export import export_raw_warehouse
from tests.warehouse.raw_world import create_raw_warehouse, raw_tables


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
    }
    monkeypatch.setenv("REENGAGE_SPARK_MASTER", "spark://spark-master:7077")
    assert dbt_environment()["REENGAGE_SPARK_MASTER"] == "spark://spark-master:7077"


def test_every_raw_table_is_exported_whole_and_a_second_export_replaces_it(tmp_path: Path) -> None:
    source = tmp_path / "warehouse.duckdb"
    create_raw_warehouse(source, last_partition="2026-01-07")
    raw_dir = tmp_path / "spark" / "raw"
    first = export_raw_warehouse(source, raw_dir)
    assert set(first) == set(raw_tables())
    con = duckdb.connect(str(source))
    try:
        con.execute("set timezone = 'UTC'")
        con.execute("delete from raw.events where event_ts >= '2026-01-01'")
        kept = con.execute("select count(*) from raw.events").fetchone()[0]
    finally:
        con.close()
    second = export_raw_warehouse(source, raw_dir)
    assert second["events"] == kept < first["events"]
    assert sorted(p.name for p in raw_dir.iterdir()) == sorted(raw_tables()), "a leftover beside the tables"
    con = duckdb.connect(str(source), read_only=True)
    try:
        con.execute("set timezone = 'UTC'")
        exported = f"read_parquet('{(raw_dir / 'events' / '*.parquet').as_posix()}')"
        # timestamptz stays an instant (Spark reads it as its timestamp), every column as DuckDB has it
        assert (
            con.execute(f"describe select * from {exported}").fetchall()
            == con.execute("describe select * from raw.events").fetchall()
        )
        assert con.execute(f"select * from raw.events except all select * from {exported}").fetchall() == []
    finally:
        con.close()


def test_a_view_or_an_unbuilt_table_has_no_parquet_to_read(tmp_path: Path) -> None:
    with pytest.raises(MissingSparkTable, match="staging.stg_product__events: no Parquet file"):
        table_scan(SparkLayout(tmp_path), "staging", "stg_product__events")
