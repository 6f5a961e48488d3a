"""DuckDB reading the tables Spark wrote, straight from their Parquet files (no Spark process).

A table is a folder of Parquet files, `<spark home>/warehouse/<schema>.db/<table>/`; a table
stored by day (`meta.day_partition`) has a sub-folder per day, `<column>=YYYY-MM-DD/`, whose
files lack that column: DuckDB takes it from the folder names (hive partitioning) as a date,
and lists it last, where Spark's schema has it too. Timestamps are written as microseconds
without a time zone (the profile's timestampType), so DuckDB reads the naive UTC `timestamp`
the contracts declare.

Only the data files are read: `*.parquet` at the top of the folder, or in its day folders.
While Spark writes, its unfinished files sit in `_temporary/` and `.spark-staging-*/` under the
same folder, and a recursive pattern would read them as rows.

Views are not files: they live only in Spark's metastore, and DuckDB cannot read them.
"""

from __future__ import annotations

from reengage.spark.layout import SparkLayout, sql_path


class MissingSparkTable(FileNotFoundError):
    """No Parquet file where a Spark table should be (never built, a view, or dropped)."""


def table_scan(layout: SparkLayout, schema: str, name: str, day_column: str | None = None) -> str:
    """DuckDB SQL (a table function call) reading one table Spark built; `day_column` if stored by day."""
    folder = layout.table_dir(schema, name)
    pattern = f"{day_column}=*/*.parquet" if day_column else "*.parquet"
    if not any(folder.glob(pattern)):
        raise MissingSparkTable(
            f"{schema}.{name}: no Parquet file matching {pattern} under {folder} (a view, or a table "
            "Spark has not built)"
        )
    files = sql_path(folder / pattern)
    return f"read_parquet('{files}', hive_partitioning = {'true' if day_column else 'false'})"
