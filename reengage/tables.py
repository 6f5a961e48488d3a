"""Tables on a warehouse connection: catalog probes, transactions, replacing a run date's rows,
query results as pandas frames.

DuckDB only (no Dagster), so the model code in `reengage/learning/` writes its tables the same way the
pipeline's stages do.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

import duckdb
import pandas as pd
import pyarrow as pa


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


# Integer and boolean columns with a null come out as pandas' nullable types, as DuckDB's `.df()` gives them.
_NULLABLE: dict[pa.DataType, object] = {
    pa.int8(): pd.Int8Dtype(),
    pa.int16(): pd.Int16Dtype(),
    pa.int32(): pd.Int32Dtype(),
    pa.int64(): pd.Int64Dtype(),
    pa.uint8(): pd.UInt8Dtype(),
    pa.uint16(): pd.UInt16Dtype(),
    pa.uint32(): pd.UInt32Dtype(),
    pa.uint64(): pd.UInt64Dtype(),
    pa.bool_(): pd.BooleanDtype(),
}


def as_frame(result: duckdb.DuckDBPyConnection | duckdb.DuckDBPyRelation) -> pd.DataFrame:
    """A query's rows (`con.execute(...)` or `con.sql(...)`) as a pandas frame, read through Arrow.

    Use it instead of DuckDB's `.df()`: that calls `DataFrame.drop(inplace=True)`, which pandas 3.1
    deprecates, on every result with a timestamp-with-zone column, so each such query warned. The
    frame has the dtypes `.df()` gives: dates as datetime64, decimals and sums (DuckDB's HUGEINT
    arrives as a decimal) as float64, integer and boolean columns holding a null as nullable types,
    timestamps with their zone.
    """
    table = result.to_arrow_table()
    columns = []
    for field, column in zip(table.schema, table.columns, strict=True):
        if pa.types.is_date(field.type):
            column = column.cast(pa.timestamp("us"))
        elif pa.types.is_decimal(field.type):
            column = column.cast(pa.float64())
        columns.append(column)
    table = pa.Table.from_arrays(columns, names=table.column_names)
    rows = table.to_pandas()
    for position, (field, column) in enumerate(zip(table.schema, table.columns, strict=True)):
        if field.type in _NULLABLE and column.null_count:
            rows.isetitem(position, column.to_pandas(types_mapper=_NULLABLE.get))
    return rows
