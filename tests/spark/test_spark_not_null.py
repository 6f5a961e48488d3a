"""A null in a column a contract declares not null fails the build on Spark, as it does on DuckDB.

Parquet tables hold no constraint: Spark would store the null. The contract's select refuses it
instead (macros/spark/tables.sql), so the statement stops with the column's name and nothing is
written. The null comes the way a real one would, from a raw CRM row without a customer id.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from reengage.spark.layout import SparkLayout
from reengage.spark.raw_export import export_raw_warehouse
from tests.warehouse.conftest import run_dbt
from tests.warehouse.raw_world import RUN_DATE, create_raw_warehouse, insert_partitions, raw_tables

from .spark_env import run_dbt_on_spark, spark_environment

pytestmark = pytest.mark.spark

MODEL = "stg_crm__customers"  # customer_id: not_null constraint


def _warehouse_with_a_customer_without_id(path: Path) -> None:
    create_raw_warehouse(path)
    nameless = {**raw_tables()["customers"][0], "customer_id": None, "_source_row": 999}
    con = duckdb.connect(str(path))
    try:
        con.execute("set timezone = 'UTC'")
        assert insert_partitions(con, {"customers": [nameless]}) == 1
    finally:
        con.close()


def test_a_null_in_a_not_null_contract_column_fails_the_build_on_spark_and_on_duckdb(tmp_path: Path) -> None:
    layout = SparkLayout(tmp_path / "spark_home")
    spark_env = spark_environment(layout.home)
    warehouse = tmp_path / "warehouse.duckdb"
    _warehouse_with_a_customer_without_id(warehouse)
    export_raw_warehouse(warehouse, layout.raw)
    run = ["run", "--select", MODEL]

    spark = run_dbt_on_spark(run, warehouse, tmp_path / "spark", spark_env, RUN_DATE, timeout=900)
    assert spark.returncode == 1, spark.explain()
    assert spark.not_passed() == {f"model.reengage.{MODEL}": "error"}
    assert f"staging.{MODEL}.customer_id is null: its contract declares it not null" in spark.explain()
    assert not list(layout.table_dir("staging", MODEL).rglob("*.parquet")), "the null was written"

    duck = run_dbt(run, warehouse, tmp_path / "duckdb", extra_env={"REENGAGE_RUN_DATE": RUN_DATE})
    assert duck.returncode == 1, duck.explain()
    assert duck.not_passed() == {f"model.reengage.{MODEL}": "error"}
    assert "NOT NULL constraint failed" in duck.explain()
