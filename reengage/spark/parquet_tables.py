"""DuckDB reading the tables Spark wrote, straight from their Parquet files (no Spark process).

A table is a folder of Parquet files, `<spark home>/warehouse/<schema>.db/<table>/`; a table
stored by day (`meta.day_partition`) has a sub-folder per day, `<column>=YYYY-MM-DD/`, whose
files lack that column: DuckDB takes it from the folder names (hive partitioning) as a date,
and lists it last, where Spark's schema has it too. Timestamps are written as microseconds
without a time zone (the profile's timestampType), so DuckDB reads the naive UTC `timestamp`
the contracts declare.

Views are not files: they live only in Spark's metastore, and DuckDB cannot read them.
"""

from __future__ import annotations

from reengage.spark.layout import SparkLayout


class MissingSparkTable(FileNotFoundError):
    """No Parquet file where a Spark table should be (never built, a view, or dropped)."""


def table_scan(layout: SparkLayout, schema: str, name: str) -> str:
    """DuckDB SQL (a table function call) reading one table Spark built."""
    folder = layout.table_dir(schema, name)
    if not any(folder.rglob("*.parquet")):
        raise MissingSparkTable(
            f"{schema}.{name}: no Parquet file under {folder} (a view, or a table Spark has not built)"
        )
    pattern = (folder / "**" / "*.parquet").as_posix().replace("'", "''")
    return f"read_parquet('{pattern}', hive_partitioning = true)"
