"""Writing one run date's rows of a scoring table: replaced whole, in one transaction.

The tables are declared in `reengage.schema.declared`; a warehouse handed over bare is
migrated first, so the table exists in its declared shape.
"""

from datetime import date

import duckdb
import pandas as pd

from reengage.schema.migrations import migrate
from reengage.tables import replace_run_date as replace_rows_of_run_date
from reengage.tables import transaction


def replace_run_date(
    con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame, columns: list[str], run_date: date
) -> int:
    """Delete `run_date`'s rows of `table` and insert `frame` (one row per customer) in their place.

    A rerun of a day therefore leaves exactly one copy, and a failure leaves the old rows.
    """
    if frame["customer_id"].duplicated().any():
        raise ValueError(f"{table} rows for {run_date} contain duplicate customer_ids")
    migrate(con)
    with transaction(con):
        return replace_rows_of_run_date(con, table, run_date, frame[columns].assign(run_date=run_date))
