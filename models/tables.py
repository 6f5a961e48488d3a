"""Writing one run date's rows of a scoring table: replaced whole, in one transaction."""

from datetime import date

import duckdb
import pandas as pd


def replace_run_date(
    con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame, columns: list[str], run_date: date
) -> int:
    """Delete `run_date`'s rows of `table` and insert `frame` (one row per customer) in their place.

    A rerun of a day therefore leaves exactly one copy, and a failure leaves the old rows.
    """
    if frame["customer_id"].duplicated().any():
        raise ValueError(f"{table} rows for {run_date} contain duplicate customer_ids")
    staged = frame[columns].assign(run_date=run_date)
    con.execute("begin transaction")
    try:
        con.execute(f"delete from {table} where run_date = $d", {"d": run_date})
        con.register("_run_date_rows", staged)
        con.execute(f"insert into {table} by name select * from _run_date_rows")
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    finally:
        con.unregister("_run_date_rows")
    return len(staged)
