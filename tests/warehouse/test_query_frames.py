"""Query results as pandas frames: the dtypes DuckDB's `.df()` gives, without its pandas deprecation."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from reengage.tables import as_frame

ROOT = Path(__file__).resolve().parents[2]

# Every type a stage's query returns, with and without nulls (null lists and all-null text columns
# excepted: `.df()` gives them as pd.NA and objects, the frame as None and text, both reading null).
TYPED = """
select * from (values
    (1, 'x', timestamp '2026-01-01 01:02:03', date '2026-01-02', 1.50::decimal(10, 2), true,
     null::int, [1, 2], 2.5::double, 7::bigint, null::date, null::boolean, 3::hugeint, 1::tinyint),
    (2, null, null, null, null, null, 5, [3], null, null, date '2026-02-01', false, null, null)
) t(i, s, ts, d, dec, b, ni, l, f, bi, nd, nb, hi, ti)
"""


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("set timezone = 'UTC'")  # as every warehouse connection (reengage.warehouse)
    yield con
    con.close()


SUMS = "select sum(x) as total, count(*) as n, x % 2 as odd from range(5) r(x) group by odd order by odd"


@pytest.mark.parametrize("sql", [TYPED, SUMS, "select * from range(0) r(x)"])
def test_a_frame_has_the_dtypes_and_values_duckdbs_own_conversion_gives(con, sql: str) -> None:
    pd.testing.assert_frame_equal(as_frame(con.execute(sql)), con.execute(sql).df())
    pd.testing.assert_frame_equal(as_frame(con.sql(sql)), con.sql(sql).df())


def test_a_result_with_a_time_zone_reads_without_a_warning(con) -> None:
    # Guards the pandas deprecation (DataFrame.drop inplace) `.df()` raised on every such result.
    sql = "select timestamptz '2026-01-01 10:00:00+00' as at, null::timestamptz as never"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rows = as_frame(con.execute(sql))
    assert str(rows["at"].dtype) == "datetime64[us, UTC]" and rows["never"].isna().all()
    assert rows["at"].iloc[0] == pd.Timestamp("2026-01-01 10:00", tz="UTC")


def test_no_query_is_read_through_duckdbs_df() -> None:
    """Every query reaches pandas through `as_frame`, so none warns again."""
    calls = [
        f"{path.relative_to(ROOT)}:{n}"
        for folder in ("reengage", "devkit", "tests", "benchmarks")
        for path in sorted((ROOT / folder).rglob("*.py"))
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"\)\.df\(\)", line) and path != Path(__file__)
    ]
    assert not calls, calls
