"""A CSV file read by DuckDB (bulk.py, screen.py) loads exactly what the Python reader and parser load.

The rules live in parse.py; DuckDB only picks out rows they surely pass. So the strongest check is
the same file loaded both ways: every stored row, every quarantine row (reason, column, row number,
raw record) and every count and warning of the load report must agree, for generated files full of
odd values and broken structure.
"""

from __future__ import annotations

import csv
import io
import shutil
import tempfile
from datetime import date
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from reengage.defs.ingest import bulk
from reengage.defs.ingest.contracts import CONTRACTS
from reengage.defs.ingest.loader import LoadReport, load_day
from reengage.schema.migrations import migrate

D = date(2026, 3, 10)

# Values that parse.py accepts, values it refuses or sets to null, and shapes at the screen's edges.
TIMESTAMPS = [
    "2026-03-10T08:15:00Z",
    "2026-03-10 10:15:00+02:00",
    "2026-03-10T10:15:00.250+0200",
    "2026-03-10T10:15:00.123456-01:30",
    "2026-03-10T23:59:59.999999Z",
    "2026-03-10T08:15:00",
    "2026-03-10 08:15:00.5",
    "2026-03-10",
    "2026-03-10T24:00:00Z",
    "2026-02-30T08:00:00Z",
    "2026-03-11T00:00:00Z",
    "2026-03-11T23:59:59Z",
    "2026-03-12T00:00:00Z",
    "2026-03-10T08:15:00z",
    "2026-03-10T08:15:00.1234567Z",
    "2025-12-01T00:00:00Z",
    "2026-03-03T00:00:00Z",
    "1999-12-31T23:59:59Z",
    "2026-03-10T08:15:00+14:00",
    "2026-03-10T08:15:00-13:59",
    "10/03/2026 08:15",
    "not a time",
]
NUMBERS = [
    "12.5",
    "-3",
    "0",
    "1e3",
    "0.1",
    "123456789.123456",
    "1234567890",
    "-0.000001",
    "10000000",
    "1e9",
    "10000001",
    "-1000000000",
    "1000000001",
    "nan",
    "inf",
    "1,5",
    "+4",
    ".5",
    "5.",
    "0x10",
    "１２",
]
WORDS = [
    "true",
    "t",
    "1",
    "yes",
    "y",
    "false",
    "f",
    "0",
    "no",
    "n",
    "Yes",
    "FALSE",
    "TRUE",
    "maybe",
    "2",
    "oui",
]
TIMEZONES = ["Europe/Paris", "America/New_York", "UTC", "europe/paris", "+02:00", "Mars/Olympus", "GMT"]
EMAILS = [
    "Ann.Lee@Example.com",
    "o'brien+news@mail.example.co.uk",
    "a@b.c",
    "no-at-sign",
    "a@b",
    "é@x.com",
    "x@y.com.",
    "A@B.CO",
]
PHONES = [
    "+4915123456789",
    "+14155550100",
    "+1234567",
    "004915123456789",
    "+49 151 2345678",
    "+０１２３４５６７",
    "+0123456789",
]
URLS = [
    "https://shop.example.com/product/sku-1",
    "http://shop.example.com:8080/p?id=1#top",
    "https://cdn.example.com/i/a%C3%A9.jpg",
    "shop.example.com/product/sku-1",
    "javascript:alert(1)",
    "https://shop.example.com/a b",
    "https://shop.example.com/é",
    "HTTPS://shop.example.com/",
    "https://-bad.example.com/",
    "https://shop.example.com/\x0b",
    "ftp://shop.example.com/",
]
CURRENCIES = ["EUR", "usd", "Gbp", "EURO", "E1R", "ßr", "€", "ｅｕｒ", "EU"]
UNIX = ["1773130500", "1773130500.25", "1773216000", "946684799", "1e10", "177313050000", "-1", "01773130500"]
DATES = ["2026-03-10", "1600-01-01", "2262-05-01", "2026-02-30", "2026/03/10", "20260310"]
EVENT_TYPES = ["open", "Open", "CLICK", "bounce", "opened", "unsubscribe", "group_unsubscribe", "İ"]
EVENT_NAMES = ["page_view", "product_view", "add_to_cart", "purchase", "no_such_event", "Page_View"]
# Text that trips the screen's edges: every kind of Python whitespace, quotes, delimiters, line breaks.
ODD_TEXT = st.text(
    alphabet=st.sampled_from([*'ab1 ,"\n\r\t;é', "\xa0", "\u3000", "\x1c", "\u2028", "\x85", "\x0b"]),
    max_size=6,
)
PADDING = st.sampled_from(["", "", "", " ", "  ", "\t", "\xa0", "\u3000", "\u2029"])

GOOD = {
    "text": ["abc", "c1", "Shoes, Boots", "ä"],
    "timestamp": TIMESTAMPS[:7],
    "unix_timestamp": UNIX[:3],
    "double": NUMBERS[:6],
    "boolean": WORDS[:12],
    "timezone": TIMEZONES[:3],
    "email": EMAILS[:3],
    "phone": PHONES[:3],
    "url": URLS[:3],
    "currency": CURRENCIES[:3],
    "date": DATES[:1],
}
KINDS = {
    "text": st.sampled_from(["abc", "c1", "/p/sku-1", "Shoes, Boots", 'say:"hi"', "a\nb", "ä"]),
    "timestamp": st.sampled_from(TIMESTAMPS),
    "unix_timestamp": st.sampled_from(UNIX),
    "double": st.sampled_from(NUMBERS),
    "boolean": st.sampled_from(WORDS),
    "timezone": st.sampled_from(TIMEZONES),
    "email": st.sampled_from(EMAILS),
    "phone": st.sampled_from(PHONES),
    "url": st.sampled_from(URLS),
    "currency": st.sampled_from(CURRENCIES),
    "date": st.sampled_from(DATES),
}


@st.composite
def value(draw: st.DrawFn, source: str, name: str, odd: bool, edge: bool) -> str:
    """A value for `name`: of its type and good, or for the row's one `edge` column anything at
    the rules' edges (in an odd file, any text at all)."""
    col = CONTRACTS[source].column(name)
    chance = draw(st.integers(0, 29))
    if chance == 0:
        return ""
    if name == "event_name":
        return draw(st.sampled_from(EVENT_NAMES[:4] if not edge else EVENT_NAMES))
    if name == "event":
        return draw(st.sampled_from(EVENT_TYPES[:4] if not edge else EVENT_TYPES))
    if not edge:
        return draw(st.sampled_from(GOOD[col.type]))
    if odd and chance == 1:
        return draw(ODD_TEXT)
    base = draw(KINDS[col.type])
    if chance < 20:
        return base
    return draw(PADDING) + base + draw(PADDING)


@st.composite
def export(draw: st.DrawFn, source: str) -> bytes:
    """A CSV export of a dozen rows; one file in three is damaged on purpose (its structure or bytes)."""
    contract = CONTRACTS[source]
    odd = draw(st.integers(0, 2)) == 0
    names = list(contract.names)
    if draw(st.booleans()):
        names = [n for n in names if n not in contract.optional_columns or draw(st.booleans())]
    if draw(st.integers(0, 4)) == 0:
        names.append("extra")
    rows = []
    count = draw(st.integers(0, 20))
    for _ in range(count):
        edge = draw(st.sampled_from(names))
        row = {
            name: draw(value(source, name, odd, name == edge)) if name != "extra" else "x" for name in names
        }
        key = contract.unique_key
        if key in row and draw(st.integers(0, 3)):
            # Mostly a key of its own; one row in five repeats another's (a file-wide duplicate).
            row[key] = f"k{draw(st.integers(0, len(rows))) if draw(st.integers(0, 4)) == 0 else len(rows)}"
            if draw(st.integers(0, 4)) == 0:
                row[key] = draw(PADDING) + row[key] + draw(PADDING)
        rows.append([row[name] for name in names])
    newline = draw(st.sampled_from(["\n", "\n", "\r\n"]))
    lines = [_csv_line(names)]
    for row in rows:
        text = _csv_line(row)
        damage = draw(st.integers(0, 19)) if odd else -1
        if damage == 0:
            text = ",".join(row)  # unquoted: delimiters, quotes and line breaks in values break it
        elif damage == 1:
            text = text + ","  # a field too many
        elif damage == 2:
            text = text.rsplit(",", 1)[0]  # a field too few
        elif damage == 3:
            text = text.replace(',"', ', "', 1)  # a space before a quote
        lines.append(text)
    body = newline.join(lines)
    if rows and (not odd or draw(st.integers(0, 4))):
        body += newline  # most files end with a line break
    if odd and rows and draw(st.integers(0, 4)) == 0:
        body = body.replace(newline, newline + newline, 2)  # a blank line
    if draw(st.integers(0, 9)) == 0:
        body = "\ufeff" + body
    return body.encode()


def _csv_line(fields: list[str]) -> str:
    line = io.StringIO()
    csv.writer(line, lineterminator="\r\n").writerow(fields)  # a value with a line break is quoted
    return line.getvalue().removesuffix("\r\n")


def loaded(landing: Path, warehouse: str, source: str, duckdb_reads_csv: bool) -> tuple:
    with duckdb.connect(warehouse) as con:
        report = load_day(con, str(landing), source, D, duckdb_reads_csv=duckdb_reads_csv)
        rows = con.execute(f"select * exclude (_loaded_at) from raw.{source} order by _source_row").fetchall()
        quarantine = con.execute(
            'select * exclude (_loaded_at) from raw.quarantine order by row, row_kept, "column"'
        ).fetchall()
    return report, rows, quarantine


def comparable(report: LoadReport) -> dict:
    fields = dict(vars(report))
    fields.pop("read_by_duckdb")
    fields.pop("keys_repeated")  # only DuckDB's reading looks for them apart
    return fields


@pytest.mark.parametrize("source", ["events", "customers", "email_events", "products"])
def test_a_csv_file_read_by_duckdb_loads_exactly_what_the_python_reader_loads(
    source: str, tmp_path: Path
) -> None:
    """Guards the screen passing a row parse.py refuses or types differently, and DuckDB splitting or
    numbering rows otherwise than Python's csv module: both would store other rows or reasons."""
    # Every example starts from a copy of one migrated warehouse: migrating a new file is half an
    # example's time, and the load under test migrates nothing on a current one.
    migrated = tmp_path / "migrated.duckdb"
    with duckdb.connect(str(migrated)) as con:
        migrate(con)

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(text=export(source))
    def check(text: bytes) -> None:
        with tempfile.TemporaryDirectory() as folder:
            root = Path(folder)
            path = root / "landing" / source / f"{source}_{D}.csv"
            path.parent.mkdir(parents=True)
            path.write_bytes(text)
            for warehouse in ("python.duckdb", "duckdb.duckdb"):
                shutil.copyfile(migrated, root / warehouse)
            try:
                python = loaded(root / "landing", str(root / "python.duckdb"), source, False)
            except Exception as err:  # a refused file must be refused the same way
                with pytest.raises(type(err)) as raised:
                    loaded(root / "landing", str(root / "duckdb.duckdb"), source, True)
                assert str(raised.value) == str(err)
                event("file refused")
                return
            by_duckdb = loaded(root / "landing", str(root / "duckdb.duckdb"), source, True)
            event("read by DuckDB" if by_duckdb[0].read_by_duckdb else "read by Python")
            event("a repeated key found, read again" if by_duckdb[0].keys_repeated else "no key repeated")
            assert comparable(by_duckdb[0]) == comparable(python[0])
            assert by_duckdb[1:] == python[1:]

    check()


def test_a_plain_csv_file_is_read_by_duckdb_and_an_odd_one_by_the_python_reader(tmp_path: Path) -> None:
    """Guards the fast path silently never running (or running on a file it cannot read alike)."""
    header = "event_id,user_id,anonymous_id,event_name,event_ts,page,product_id,category,value,device,channel"
    row = "e{n},u1,a1,page_view,2026-03-10T08:00:00Z,/p,,,1.5,web,organic"
    plain = "\n".join([header, *(row.format(n=n) for n in range(5))]) + "\n"
    cases = {
        "plain": (plain, True),
        "crlf": (plain.replace("\n", "\r\n"), True),
        "quoted": (plain.replace("/p", '"/p, q"'), True),
        # Its line breaks move the rows after it off their lines, which the reader numbers.
        "quoted line break": (plain.replace("/p", '"/p\nq"'), False),
        "blank line": (plain.replace("\n", "\n\n", 2), False),
        "space beside a quote": (plain.replace("/p", ' "/p"'), False),
        "NUL byte": (plain.replace("/p", "/\x00p"), False),
        "lone carriage return": (plain.replace("\n", "\r", 2), False),
        "short row": (plain.replace(",organic", "", 1), False),
        # DuckDB drops empty fields past the last column: the file's commas are counted.
        "an empty field too many": (plain.replace("organic\n", "organic,\n", 1), False),
        "two empty fields too many": (plain.replace("organic\n", "organic,,\n", 1), False),
        "an empty field too many among quoted commas": (
            plain.replace("/p", '"/p, q"').replace("organic\n", "organic,\n", 1),
            False,
        ),
        "a field too many": (plain.replace("organic\n", "organic,x\n", 1), False),
        # A timestamp without an offset is the parser's to read (and count for its warning).
        "timestamps without an offset": (plain.replace("08:00:00Z", "08:00:00"), True),
    }
    for name, (text, by_duckdb) in cases.items():
        landing = tmp_path / name.replace(" ", "_")
        path = landing / "events" / f"events_{D}.csv"
        path.parent.mkdir(parents=True)
        path.write_bytes(text.encode())
        with duckdb.connect() as con:
            report = load_day(con, str(landing), "events", D)
        assert report.read_by_duckdb == by_duckdb, name
        assert report.rows_read == 5, name


def test_a_key_shared_by_a_row_duckdb_loads_and_a_later_row_the_parser_reads_is_judged_in_file_order(
    tmp_path: Path,
) -> None:
    """Guards the rows sharing a key being judged in the order their text was kept (the parser's rows
    before DuckDB's): the later row was called a copy of the first, its different values unreported."""
    header = "event_id,user_id,anonymous_id,event_name,event_ts,page,product_id,category,value,device,channel"
    text = "\n".join(
        [
            header,
            "k1,u1,a1,page_view,2026-03-10T08:00:00Z,/p,,,1.5,web,organic",
            # The same key with other values, in a timestamp shape only the parser reads.
            "k1,u2,a2,purchase,2026-03-10T10:15:00.250+0200,/checkout,,,9,web,organic",
        ]
    )
    path = tmp_path / "events" / f"events_{D}.csv"
    path.parent.mkdir(parents=True)
    path.write_text(text + "\n")
    with duckdb.connect() as con:
        report = load_day(con, str(tmp_path), "events", D)
        stored = con.execute("select _source_row from raw.events").fetchall()
        refused = con.execute("select row, reason from raw.quarantine").fetchall()
    assert report.read_by_duckdb
    assert stored == [(1,)]
    assert refused == [(2, "duplicate event_id with different values in this file (first at row 1)")]


def test_a_file_above_the_size_limit_is_read_by_the_python_reader_and_loads_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Guards the 2 GiB a single file may take: DuckDB's inserting transaction holds its rows in memory,
    so a file above bulk.LARGEST_FILE_BYTES is read by the Python reader, with the same outcome."""
    header = "event_id,user_id,anonymous_id,event_name,event_ts,page,product_id,category,value,device,channel"
    rows = [f"e{n},u{n},a1,page_view,2026-03-10T08:00:{n:02d}Z,/p,,,{n}.5,web,organic" for n in range(20)]
    rows.append("e3,u9,a1,purchase,2026-03-10T09:00:00Z,/p,,,1,web,organic")  # a key repeated
    path = tmp_path / "events" / f"events_{D}.csv"
    path.parent.mkdir(parents=True)
    path.write_text("\n".join([header, *rows]) + "\n")
    stored, readers = [], []
    for limit in (bulk.LARGEST_FILE_BYTES, path.stat().st_size - 1):
        monkeypatch.setattr(bulk, "LARGEST_FILE_BYTES", limit)
        with duckdb.connect() as con:
            readers.append(load_day(con, str(tmp_path), "events", D).read_by_duckdb)
            stored.append(
                (
                    con.execute(
                        "select * exclude (_loaded_at) from raw.events order by _source_row"
                    ).fetchall(),
                    con.execute("select row, reason from raw.quarantine order by row").fetchall(),
                )
            )
    assert readers == [True, False]
    assert (len(stored[0][0]), len(stored[0][1])) == (20, 1)
    assert stored[1] == stored[0]


@pytest.mark.parametrize(
    ("text", "edge"),
    [
        (b"a,b\nc d,e f\n", False),  # spaces inside values only: nothing to strip
        (b"a,b\nc, d\n", True),  # after a delimiter
        (b"a,b\nc ,d\n", True),  # before a delimiter
        (b"a,b\n c,d\n", True),  # at a line's start
        (b"a,b\nc,d \n", True),  # at a line's end
        (b"a,b\nc,d\r\ne,f \r\n", True),  # before a carriage return
        (b'a,b\n" c",d\n', True),  # inside quotes
        (b"a,b\nc,d ", True),  # at the file's end, without a line break
        (b"a,b\nc\td,e\n", True),  # a tab anywhere
        (b"a,b\nc\x1fd,e\n", True),  # a unit separator: whitespace to str.strip
        ("a,b\nc\u00a0d,e\n".encode(), True),  # not ASCII: a space of Unicode's may stand anywhere
    ],
)
def test_values_are_stripped_only_where_the_bytes_show_whitespace_at_a_values_edge(
    tmp_path: Path, text: bytes, edge: bool
) -> None:
    """Guards the pass over the bytes missing whitespace a value may start or end with: the screen would
    then load it unstripped, where parse.py strips it."""
    path = tmp_path / "file.csv"
    path.write_bytes(text)
    assert bulk._scan_bytes(str(path)).edge_whitespace is edge


def test_a_space_at_the_end_of_one_block_is_judged_with_the_byte_after_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Guards a value's edge space that falls on a block boundary going unseen."""
    monkeypatch.setattr(bulk, "BLOCK_BYTES", 8)
    path = tmp_path / "file.csv"
    path.write_bytes(b"a,b\nccc  ,d\n")  # the spaces end the first 8-byte block, the comma starts the next
    assert bulk._scan_bytes(str(path)).edge_whitespace
    path.write_bytes(b"a,b\nccc  dd,e\n")
    assert not bulk._scan_bytes(str(path)).edge_whitespace
