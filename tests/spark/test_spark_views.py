"""The Python stages' views over the tables dbt built on Spark, without starting Spark.

The Parquet files are written here by DuckDB in Spark's layout (a folder per table, a folder per
day for a table stored by day, unfinished files under `_temporary/` while a write runs); the
manifest is the part of dbt's that `stored_tables` reads. tests/spark/test_spark_build.py reads
real Spark output through the same `table_scan`.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest

from reengage.spark.layout import SparkLayout
from reengage.spark.views import SparkTable, SparkViewError, refresh_views, stored_tables


def _node(name: str, schema: str, materialized: str, day: str | None = None, kind: str = "model") -> dict:
    meta = {"day_partition": day} if day else {}
    return {
        "resource_type": kind,
        "name": name,
        "schema": schema,
        "config": {"materialized": materialized, "meta": meta},
    }


MANIFEST = {
    "nodes": {
        "model.p.fct_user_features": _node("fct_user_features", "marts", "table"),
        "model.p.int_events_stitched": _node(
            "int_events_stitched", "intermediate", "incremental", "event_date"
        ),
        "model.p.stg_product__events": _node("stg_product__events", "staging", "view"),
        "seed.p.event_catalog": _node("event_catalog", "staging", "seed", kind="seed"),
        "test.p.not_null_x": {"resource_type": "test", "name": "not_null_x", "schema": "marts", "config": {}},
    }
}


def _write(con: duckdb.DuckDBPyConnection, file: Path, sql: str) -> None:
    file.parent.mkdir(parents=True, exist_ok=True)
    con.execute(f"copy ({sql}) to '{file}' (format parquet)")


@pytest.fixture
def layout(tmp_path: Path) -> SparkLayout:
    layout = SparkLayout(tmp_path / "spark")
    con = duckdb.connect()
    features = layout.table_dir("marts", "fct_user_features")
    _write(con, features / "part-00000.parquet", "select 'c1' as customer_id, 3 as purchases_90d")
    _write(con, features / "part-00001.parquet", "select 'c2' as customer_id, 0 as purchases_90d")
    # a write in progress: Spark's unfinished file must never be read as rows
    _write(
        con,
        features / "_temporary" / "0" / "part-00002.parquet",
        "select 'half' as customer_id, 9 as purchases_90d",
    )
    events = layout.table_dir("intermediate", "int_events_stitched")
    for day, customer in (("2026-01-01", "c1"), ("2026-01-02", "c2")):
        _write(
            con,
            events / f"event_date={day}" / "part-00000.parquet",
            f"select '{customer}' as customer_id, 'purchase' as event_name",
        )
    _write(
        con,
        events / ".spark-staging-1" / "event_date=2026-01-03" / "part-0.parquet",
        "select 'half' as customer_id, 'x' as event_name",
    )
    con.close()
    return layout


def test_the_manifest_names_every_table_spark_stores_with_its_day_column():
    # dbt's views are metastore entries without files and tests are no relations: neither gets one.
    assert stored_tables(MANIFEST) == [
        SparkTable("intermediate", "int_events_stitched", "event_date"),
        SparkTable("marts", "fct_user_features"),
        SparkTable("staging", "event_catalog"),
    ]


def test_the_stages_read_sparks_finished_files_through_views_in_their_file(
    layout: SparkLayout, tmp_path: Path
):
    # Guards what every stage reads on Spark: the same qualified names as on DuckDB, the finished
    # files only, a day column from the folder names as a date, and a view per built table only.
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        done = refresh_views(con, layout, stored_tables(MANIFEST))
        assert done.made == ("intermediate.int_events_stitched", "marts.fct_user_features")
        assert con.execute(
            "select customer_id, purchases_90d from marts.fct_user_features order by 1"
        ).fetchall() == [
            ("c1", 3),
            ("c2", 0),
        ]
        assert con.execute(
            "select customer_id, event_date, typeof(event_date) "
            "from intermediate.int_events_stitched order by 1"
        ).fetchall() == [
            ("c1", date(2026, 1, 1), "DATE"),
            ("c2", date(2026, 1, 2), "DATE"),
        ]
        # no Parquet yet for the seed: no view, so a reader fails instead of reading nothing
        assert con.execute(
            "select count(*) from duckdb_views() where view_name = 'event_catalog'"
        ).fetchone() == (0,)


def test_a_new_day_is_read_at_once_and_a_model_gone_from_the_manifest_loses_its_view(
    layout: SparkLayout, tmp_path: Path
):
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        refresh_views(con, layout, stored_tables(MANIFEST))
        day = (
            layout.table_dir("intermediate", "int_events_stitched")
            / "event_date=2026-01-04"
            / "part-0.parquet"
        )
        _write(con, day, "select 'c3' as customer_id, 'purchase' as event_name")
        assert con.execute("select count(*) from intermediate.int_events_stitched").fetchone() == (3,)

        fewer = {"nodes": {k: v for k, v in MANIFEST["nodes"].items() if "fct_user_features" not in k}}
        done = refresh_views(con, layout, stored_tables(fewer))
        assert done.dropped == ("marts.fct_user_features",)
        with pytest.raises(duckdb.CatalogException, match="fct_user_features"):
            con.execute("select * from marts.fct_user_features")


def test_a_file_built_on_duckdb_is_refused_rather_than_read_in_place_of_spark(
    layout: SparkLayout, tmp_path: Path
):
    # A warehouse file from REENGAGE_WAREHOUSE_KIND=duckdb holds real marts: a view may never hide
    # behind one, nor one be dropped to make room.
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        con.execute("create schema marts")
        con.execute("create table marts.fct_user_features as select 'old' as customer_id")
        with pytest.raises(
            SparkViewError, match=r"marts.fct_user_features\).*REENGAGE_WAREHOUSE_KIND=duckdb"
        ):
            refresh_views(con, layout, stored_tables(MANIFEST))
        assert con.execute("select customer_id from marts.fct_user_features").fetchall() == [("old",)]
