"""Exports too wide or too long to trust: judged in bounded time and memory, with a clear reason.

How fast and how little memory is measured in benchmarks/ingest_memory.py; these tests state the
behaviour (what is refused, what is quarantined, how much is said) and that reading a file in chunks
changes nothing a file read at once would give.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reengage.defs.ingest import reader
from reengage.defs.ingest.loader import LoadReport, load_day
from reengage.defs.ingest.reader import MAX_ROW_CHARS, OVERLONG, IngestError

D = date(2026, 3, 10)
EVENTS = "event_id,user_id,anonymous_id,event_name,event_ts,page,product_id,category,value,device,channel"
CUSTOMERS = (
    "customer_id,email,first_name,country,timezone,signup_at,plan,lifetime_value,"
    "marketing_consent,consent_updated_at,updated_at"
)
CUSTOMER_ROW = (
    "c{n},c{n}@example.com,Ann,DE,Europe/Berlin,2026-01-05T09:00:00Z,free,1,true,,2026-03-10T07:00:00Z"
)
# Wide enough that the quadratic duplicate check this replaced took about 28 s (30,000 columns took
# 63 s); the benchmark measures 100,000.
WIDE = 20_000


def land(root: Path, source: str, text: str | bytes, ext: str = "csv") -> Path:
    path = root / source / f"{source}_{D}.{ext}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def load(root: Path, source: str) -> tuple[LoadReport, duckdb.DuckDBPyConnection]:
    con = duckdb.connect()
    return load_day(con, str(root), source, D), con


def wide_customers(extra_names: list[str], rows: int = 3) -> str:
    header = CUSTOMERS + "," + ",".join(extra_names)
    body = [CUSTOMER_ROW.format(n=n) + "," * len(extra_names) for n in range(rows)]
    return "\n".join([header, *body]) + "\n"


def test_a_header_with_thousands_of_extra_columns_loads_and_says_so_in_six_lines(tmp_path: Path) -> None:
    """Guards the regression where every extra column got its own warning (and the duplicate check was
    quadratic, so a wide header hung ingest)."""
    path = land(tmp_path, "customers", wide_customers([f"x{n:05d}" for n in range(WIDE)]))
    report, _ = load(tmp_path, "customers")
    assert (report.rows_loaded, report.rows_quarantined) == (3, 0)
    header_warnings = [w for w in report.warnings if ": header: " in w]
    assert header_warnings == [
        *(f"{path}: header: column 'x{n:05d}' is not in the contract and was ignored" for n in range(5)),
        f"{path}: header: {WIDE - 5:,} more columns not in the contract were ignored",
    ]


def test_a_column_twice_in_a_wide_header_is_named(tmp_path: Path) -> None:
    names = [f"x{n:05d}" for n in range(WIDE)] + ["x00007"]
    path = land(tmp_path, "customers", wide_customers(names))
    with pytest.raises(IngestError) as raised:
        load(tmp_path, "customers")
    assert str(raised.value) == f"{path}: header: column 'x00007' appears more than once"


def test_a_missing_column_among_thousands_of_others_is_named_without_guessing_a_rename(
    tmp_path: Path,
) -> None:
    """Fuzzy matching every extra column against every missing one is what made a wide header slow."""
    text = wide_customers(["last_updated", *(f"x{n:05d}" for n in range(WIDE))]).replace(",updated_at,", ",")
    path = land(tmp_path, "customers", text.replace("T07:00:00Z,", "", 1))
    with pytest.raises(IngestError) as raised:
        load(tmp_path, "customers")
    assert str(raised.value) == f"{path}: header: required column 'updated_at' is missing"


@pytest.mark.parametrize("ext", ["csv", "jsonl"])
def test_a_row_longer_than_the_limit_is_quarantined_and_the_rest_load(tmp_path: Path, ext: str) -> None:
    """Guards the regression where a 1 GB line was read, decoded and copied whole (7 GB of memory)."""
    huge = "x" * (MAX_ROW_CHARS + 10)
    if ext == "csv":
        rows = [
            f"e{n},u1,a1,page_view,2026-03-10T08:00:00Z,/{huge if n == 2 else 'home'},,,,web,organic"
            for n in (1, 2, 3)
        ]
        text = "\n".join([EVENTS, *rows]) + "\n"
    else:
        record = {
            "user_id": "u1",
            "anonymous_id": "a1",
            "event_name": "page_view",
            "event_ts": "2026-03-10T08:00:00Z",
        }
        text = "".join(
            json.dumps({"event_id": f"e{n}", "page": huge if n == 2 else "/"} | record) + "\n"
            for n in (1, 2, 3)
        )
    land(tmp_path, "events", text, ext)
    report, con = load(tmp_path, "events")
    assert con.execute("select list(event_id order by event_id) from raw.events").fetchone()[0] == [
        "e1",
        "e3",
    ]
    assert con.execute('select row, "column", reason, raw_record from raw.quarantine').fetchall() == [
        (2, None, OVERLONG, json.dumps({"_line": 3 if ext == "csv" else 2}))
    ]
    assert OVERLONG == "row longer than 8,388,608 characters (not read)"


def test_a_record_that_grows_past_the_limit_across_quoted_line_breaks_is_cut_and_quarantined(
    tmp_path: Path,
) -> None:
    fields = ",".join(['"' + "y" * 99_000 + '\n"'] * 100)  # 100 quoted fields, each under csv's field limit
    text = f"{EVENTS}\ne1,u1,a1,page_view,2026-03-10T08:00:00Z,,,,,web,organic\ne2,u1,a1,x,{fields}\n"
    land(tmp_path, "events", text)
    report, con = load(tmp_path, "events")
    assert con.execute("select list(event_id) from raw.events").fetchone()[0] == ["e1"]
    assert con.execute("select row, reason from raw.quarantine order by row limit 1").fetchall() == [
        (2, OVERLONG)
    ]


def test_a_header_longer_than_the_limit_refuses_the_file(tmp_path: Path) -> None:
    path = land(tmp_path, "events", EVENTS + "," + "h" * MAX_ROW_CHARS + "\n")
    with pytest.raises(IngestError) as raised:
        load(tmp_path, "events")
    assert str(raised.value) == f"{path}: line 1: the header is longer than 8,388,608 characters"


# --- Chunks: a file read in pieces gives what the whole file gives --------------------------------------

EVENT_IDS = st.sampled_from(["e1", "e2", "e3", " e1", ""])
TIMES = st.sampled_from(["2026-03-10T08:00:00Z", "2026-03-10T09:00:00+01:00", "2026-03-10 08:00:00", "soon"])
CUSTOMER_TIMES = st.sampled_from(["2026-03-10T07:00:00Z", "2026-03-10T08:00:00Z", "2026-03-10T09:00:00Z"])


@st.composite
def event_rows(draw: st.DrawFn) -> list[dict[str, str | None]]:
    row = st.fixed_dictionaries(
        {
            "event_id": EVENT_IDS,
            "user_id": st.sampled_from(["u1", "u2", None]),
            "anonymous_id": st.sampled_from(["a1", None]),
            "event_name": st.sampled_from(["page_view", "purchase"]),
            "event_ts": TIMES,
            "value": st.sampled_from([None, "1", "x"]),
        }
    )
    return draw(st.lists(row, min_size=0, max_size=12))


@st.composite
def customer_rows(draw: st.DrawFn) -> list[dict[str, str | None]]:
    row = st.fixed_dictionaries(
        {
            "customer_id": st.sampled_from(["c1", "c2", "c3"]),
            "email": st.sampled_from(["a@example.com", "not-an-email"]),
            "timezone": st.just("Europe/Berlin"),
            "signup_at": st.just("2026-01-05T09:00:00Z"),
            "plan": st.sampled_from(["free", "pro"]),
            "marketing_consent": st.sampled_from(["true", "false"]),
            "updated_at": CUSTOMER_TIMES,
        }
    )
    return draw(st.lists(row, min_size=0, max_size=12))


def export_bytes(rows: list[dict[str, str | None]], names: list[str], ext: str) -> bytes:
    if ext == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(names)
        writer.writerows([[r.get(n) or "" for n in names] for r in rows])
        return out.getvalue().encode()
    if ext == "jsonl":
        return "".join(json.dumps({n: r.get(n) for n in names}) + "\n" for r in rows).encode()
    buffer = io.BytesIO()
    pq.write_table(pa.table({n: pa.array([r.get(n) for r in rows], pa.string()) for n in names}), buffer)
    return buffer.getvalue()


def loaded_state(root: Path, source: str, chunk_rows: int) -> tuple:
    reader.CHUNK_ROWS = chunk_rows
    report, con = load(root, source)
    rows = con.execute(f"select * exclude (_loaded_at) from raw.{source} order by _source_row").fetchall()
    quarantine = con.execute(
        "select * exclude (_loaded_at) from raw.quarantine order by row, reason"
    ).fetchall()
    con.close()
    counts = (report.rows_read, report.rows_loaded, report.rows_quarantined, report.quarantine_reasons)
    return rows, quarantine, counts, report.warnings


@pytest.mark.parametrize("ext", ["csv", "jsonl", "parquet"])
@pytest.mark.parametrize("source", ["events", "customers"])
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_file_read_in_chunks_gives_exactly_what_it_gives_read_at_once(
    source: str, ext: str, data: st.DataObject, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Duplicates across chunks (the same event_id, a customer superseded or contradicted in a later chunk)
    are found with the same reasons and rows as within one chunk; counts and warnings merge."""
    rows = data.draw(event_rows() if source == "events" else customer_rows())
    names = (EVENTS if source == "events" else CUSTOMERS).split(",")
    chunk_rows = data.draw(st.integers(min_value=1, max_value=5))
    monkeypatch.setattr(reader, "CHUNK_ROWS", reader.CHUNK_ROWS)  # restored after the test
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        land(root, source, export_bytes(rows, names, ext), ext)
        whole = loaded_state(root, source, 10**9)
        chunked = loaded_state(root, source, chunk_rows)
    assert chunked == whole
