"""Tables on a warehouse connection: catalog probes, transactions, replacing a run date's rows.

DuckDB only (no Dagster), so the model code in `reengage/learning/` writes its tables the same way the
pipeline's stages do.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

import duckdb
import pandas as pd


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """All or nothing: commit when the block ends, roll back on any error, so nothing is half-written."""
    con.begin()
    try:
        yield con
    except BaseException:
        con.rollback()
        raise
    con.commit()


def relation_exists(con: duckdb.DuckDBPyConnection, qualified: str) -> bool:
    """Whether `schema.name` is a table or a view (dbt may build a model as either) in the warehouse."""
    schema, name = qualified.split(".")
    (count,) = con.execute(
        """
        select count(*) from (
            select database_name, schema_name, table_name as name from duckdb_tables()
            union all
            select database_name, schema_name, view_name from duckdb_views()
        ) where database_name = current_database() and schema_name = ? and name = ?""",
        [schema, name],
    ).fetchone()
    return bool(count)


def column_types(con: duckdb.DuckDBPyConnection, qualified: str) -> dict[str, str]:
    """`schema.name`'s columns in order, name -> type in upper case; empty when it does not exist."""
    schema, name = qualified.split(".")
    rows = con.execute(
        "select column_name, upper(data_type) from information_schema.columns "
        "where table_catalog = current_database() and table_schema = ? and table_name = ? "
        "order by ordinal_position",
        [schema, name],
    ).fetchall()
    return dict(rows)


def utc_naive_sql(expr: str, type_name: str | None) -> str:
    """A naive UTC timestamp, whether the column is timestamptz or already naive UTC.

    `type_name` is the column's type as `column_types` gives it. dbt builds event times as naive
    UTC; a table made by hand (or on another engine) may hold them with their zone.
    """
    if type_name and "TIME ZONE" in type_name:
        return f"timezone('UTC', {expr})"
    return f"cast({expr} as timestamp)"


def replace_run_date(
    con: duckdb.DuckDBPyConnection, table: str, run_date: date, rows: pd.DataFrame, column: str = "run_date"
) -> int:
    """Delete `table`'s rows of `run_date` and insert `rows` in their place, matched by column name.

    The caller holds the transaction (`transaction(con)`), so a rerun of a day leaves exactly one
    copy and a failure leaves the old rows.
    """
    con.execute(f"delete from {table} where {column} = ?", [run_date])
    if len(rows):
        con.register("_replacing_rows", rows)
        try:
            con.execute(f"insert into {table} by name select * from _replacing_rows")
        finally:
            con.unregister("_replacing_rows")
    return len(rows)
