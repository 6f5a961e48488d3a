"""The catalog of bad exports (tests/fixtures/bad_exports/, README there): each kind, loaded with the real
loader into a temporary DuckDB, gives its exact message naming file, row and column, or its exact quarantine
rows with reasons; good rows in the same file are kept; and what was loaded before is never lost.

Every case starts from a warehouse where the day before (D-1) and the day itself (D) were already loaded
from good files, then lands the fixture as D's file (or as the file its kind needs) and loads D again.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from reengage import settings
from reengage.defs.ingest import contracts
from reengage.defs.ingest.loader import LoadReport, describe_quarantine, load_day
from reengage.defs.ingest.reader import IngestError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "bad_exports"
D = date(2026, 3, 10)
BEFORE = D - timedelta(days=1)
KEYS = {"events": "event_id", "customers": "customer_id", "email_events": "sg_event_id"}
EVENTS_HEADER = (
    "event_id,user_id,anonymous_id,event_name,event_ts,page,product_id,category,value,device,channel"
)
CUSTOMERS_HEADER = (
    "customer_id,email,first_name,country,timezone,signup_at,plan,lifetime_value,"
    "marketing_consent,consent_updated_at,updated_at"
)
EMAIL_HEADER = "email,event,timestamp,sg_message_id,sg_event_id,send_id,campaign_id,variant,run_date"


def good_file(source: str, day: date) -> str:
    """Three good rows for `source` on `day`, keys prefixed with the day so partitions are told apart."""
    tag = day.strftime("%m%d")
    ts = f"{day.isoformat()}T06:00:00Z"
    if source == "events":
        rows = [f"ok{tag}-{n},u{n},a{n},page_view,{ts},/home,,,,web,organic" for n in range(3)]
        return "\n".join([EVENTS_HEADER, *rows]) + "\n"
    if source == "customers":
        rows = [
            f"ok{tag}-{n},p{n}@example.com,P,DE,Europe/Berlin,2026-01-01T00:00:00Z,free,1,true,,{ts}"
            for n in range(3)
        ]
        return "\n".join([CUSTOMERS_HEADER, *rows]) + "\n"
    unix = int(datetime.combine(day, datetime.min.time(), tzinfo=UTC).timestamp()) + 3600
    rows = [f"p{n}@example.com,delivered,{unix},m{n},ok{tag}-{n},,,,{day}" for n in range(3)]
    return "\n".join([EMAIL_HEADER, *rows]) + "\n"


@dataclass
class Landed:
    """A temporary landing folder and warehouse with D-1 and D already loaded from good files."""

    root: Path
    con: duckdb.DuckDBPyConnection
    source: str

    @property
    def landing(self) -> str:
        return str(self.root / "landing")

    def path(self, day: date, ext: str, source: str | None = None) -> Path:
        source = source or self.source
        return self.root / "landing" / source / f"{source}_{day.isoformat()}.{ext}"

    def land(self, fixture: str, day: date = D, ext: str | None = None) -> Path:
        ext = ext or fixture.rsplit(".", 1)[-1]
        target = self.path(day, ext)
        for old in target.parent.glob(f"{self.source}_{day.isoformat()}.*"):
            old.unlink()
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(FIXTURES / fixture, target)
        return target

    def load(self, day: date = D) -> LoadReport:
        return load_day(self.con, self.landing, self.source, day)

    def keys(self, day: date = D) -> list[str]:
        key = KEYS[self.source]
        rows = self.con.execute(
            f"select {key} from raw.{self.source} where _partition_date = ? order by _source_row", [day]
        ).fetchall()
        return [r[0] for r in rows]

    def quarantine(self, day: date = D, row_kept: bool = False) -> list[tuple[int, str | None, str]]:
        """The rows refused for `day`; with `row_kept`, the values set to null in rows it loaded."""
        return [
            tuple(r)
            for r in self.con.execute(
                'select row, "column", reason from raw.quarantine where source = ? and _partition_date = ? '
                "and row_kept = ? order by row",
                [self.source, day, row_kept],
            ).fetchall()
        ]

    def snapshot(self) -> tuple[list, list]:
        return (
            self.con.execute(f"select * exclude (_loaded_at) from raw.{self.source} order by all").fetchall(),
            self.con.execute("select * exclude (_loaded_at) from raw.quarantine order by all").fetchall(),
        )


@pytest.fixture
def make_landed(tmp_path: Path):
    connections: list[duckdb.DuckDBPyConnection] = []

    def _make(source: str) -> Landed:
        con = duckdb.connect()  # in memory: the same engine and transactions, without the file's fsyncs
        connections.append(con)
        landed = Landed(tmp_path, con, source)
        for day in (BEFORE, D):
            target = landed.path(day, "csv")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(good_file(source, day))
            landed.load(day)
        return landed

    yield _make
    for con in connections:
        con.close()


@dataclass
class Kind:
    """One kind of bad export: its fixture, and exactly what loading it must say and keep.

    `error`: the exact IngestError message ({file} is the landed path); the warehouse must be unchanged.
    Otherwise `quarantine` (row, column, reason: rows refused), `nulled` (the same, for values of soft
    columns set to null in rows that were loaded) and `kept` (keys loaded for D, in file order) are
    exact, and every line of `warnings` must be among the report's warnings.
    """

    name: str
    source: str
    fixture: str
    error: str | None = None
    quarantine: list[tuple[int, str | None, str]] = field(default_factory=list)
    nulled: list[tuple[int, str, str]] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    extra: Callable[[Landed, LoadReport], None] | None = None


def _is_strict_json(text: str) -> bool:
    """JSON as the standard has it: NaN and Infinity are Python's extensions, not JSON."""

    def refuse(name: str) -> None:
        raise ValueError(name)

    try:
        json.loads(text, parse_constant=refuse)
    except ValueError:
        return False
    return True


def _utc_values(landed: Landed, report: LoadReport) -> None:
    rows = landed.con.execute(
        "select event_id, strftime(event_ts at time zone 'UTC', '%Y-%m-%dT%H:%M:%S') from raw.events "
        "where _partition_date = ? order by event_id",
        [D],
    ).fetchall()
    assert rows == [
        ("e1", "2026-03-10T08:00:00"),
        ("e2", "2026-03-10T08:00:00"),
        ("e3", "2026-03-10T08:00:00"),
        ("e4", "2026-03-10T08:00:00"),
        ("e5", "2026-03-10T08:00:00"),
        ("e6", "2026-03-10T08:00:00"),
    ]


def _no_carriage_returns(landed: Landed, report: LoadReport) -> None:
    assert landed.con.execute(
        "select list(channel order by event_id) from raw.events where _partition_date = ?", [D]
    ).fetchall() == [(["organic"] * 3,)]


def _quoted_values_kept(landed: Landed, report: LoadReport) -> None:
    pages = landed.con.execute(
        "select page from raw.events where _partition_date = ? order by _source_row", [D]
    ).fetchall()
    assert pages == [("/search?q=red\nshoes",), ("/a\r\nb\nc",), ("/home",)]
    assert describe_quarantine(landed.con, "events", D) == [
        f"{report.file}: row 3, column event_ts: not a timestamp (expected ISO-8601 with offset) (CSV line 7)"
    ]


def _latest_customer_wins(landed: Landed, report: LoadReport) -> None:
    assert landed.con.execute(
        "select customer_id, plan from raw.customers where _partition_date = ? order by customer_id", [D]
    ).fetchall() == [("c1", "pro"), ("c3", "free"), ("c4", "free")]


def _emails_lowercased(landed: Landed, report: LoadReport) -> None:
    assert landed.con.execute(
        "select email from raw.customers where _partition_date = ?", [D]
    ).fetchall() == [("ann.lee@example.com",)]


def _non_utf8_record_shows_the_byte(landed: Landed, report: LoadReport) -> None:
    (record,) = landed.con.execute(
        "select raw_record from raw.quarantine where source = 'customers'"
    ).fetchall()
    assert '"first_name": "Ren\\\\xe9e"' in record[0]


def _whole_row_problems_are_described_without_a_column(landed: Landed, report: LoadReport) -> None:
    assert describe_quarantine(landed.con, "events", D) == [
        f"{report.file}: row 2, whole row: row has 12 fields, the header has 11 (an unquoted comma?)"
    ]
    assert report.quarantine_reasons == {
        "whole row: row has 12 fields, the header has 11 (an unquoted comma?)": 1
    }


def _on_a_new_day_each_row_is_quarantined_with_its_column_and_reason(
    landed: Landed, report: LoadReport
) -> None:
    later = D + timedelta(days=1)
    landed.land("integer_event_ts.parquet", day=later)
    fresh = landed.load(later)
    assert (fresh.rows_loaded, fresh.rows_quarantined) == (0, 4)
    assert landed.quarantine(later) == [
        (n, "event_ts", "not a timestamp (expected ISO-8601 with offset)") for n in (1, 2, 3, 4)
    ]


def _nested_values_are_kept_as_json_in_the_quarantine(landed: Landed, report: LoadReport) -> None:
    rows = landed.con.execute("select raw_record from raw.quarantine where source = 'events' order by row")
    records = [json.loads(r) for (r,) in rows.fetchall()]
    assert [r["user_id"] for r in records] == ['{"id": "u2"}', "u3", "u4"]
    assert [r["page"] for r in records] == [None, '["/a", "/b"]', None]


def _absurd_values_are_null_in_the_loaded_rows(landed: Landed, report: LoadReport) -> None:
    values = landed.con.execute(
        "select event_id, value from raw.events where _partition_date = ? order by event_id", [D]
    ).fetchall()
    assert values == [("e1", 49.5), ("e2", None), ("e3", None), ("e4", None), ("e5", 1e7)]


def _negative_lifetime_values_are_loaded_as_exported(landed: Landed, report: LoadReport) -> None:
    values = landed.con.execute(
        "select customer_id, lifetime_value from raw.customers where _partition_date = ? order by all", [D]
    ).fetchall()
    assert values == [("c1", -0.01), ("c2", 0.0), ("c3", -250.0)]


ADDRESS = "ann.lee@example.com"


def _the_address_is_in_no_message(landed: Landed, report: LoadReport) -> None:
    shown = [
        report.summary,
        *report.warnings,
        *report.quarantine_reasons,
        *describe_quarantine(landed.con, "customers", D),
        *(r[1] or "" for r in landed.quarantine()),
    ]
    assert shown and not [line for line in shown if ADDRESS in line]


def _header_only_on_a_new_day_is_a_day_without_rows(landed: Landed, report: LoadReport) -> None:
    later = D + timedelta(days=1)
    landed.land("header_only.csv", day=later)
    fresh = landed.load(later)
    assert (fresh.rows_read, fresh.rows_loaded) == (0, 0)
    assert f"{fresh.file}: the file has no data rows" in fresh.warnings


KINDS: list[Kind] = [
    Kind(
        "truncated file (cut mid-row)",
        "events",
        "truncated_file.csv",
        quarantine=[(4, "event_ts", "truncated: the file ends mid-row (4 of 11 fields)")],
        kept=["e1", "e2", "e3"],
    ),
    Kind(
        "truncated file (cut inside a quoted field)",
        "events",
        "truncated_quoted_field.csv",
        quarantine=[(4, None, "truncated: a quoted field is not closed before the end of the file")],
        kept=["e1", "e2", "e3"],
    ),
    Kind(
        "wrong delimiter",
        "events",
        "wrong_delimiter.csv",
        error="{file}: line 1: the header is semicolon-separated, not comma-separated "
        "('event_id;user_id;anonymous_id;event_name;event_ts;page;product_id;category;value')",
    ),
    Kind(
        "missing column",
        "events",
        "missing_column.csv",
        error="{file}: header: required column 'event_name' is missing",
    ),
    Kind(
        "renamed column",
        "customers",
        "renamed_column.csv",
        error="{file}: header: required column 'updated_at' is missing (found 'last_updated': renamed?)",
    ),
    Kind(
        "extra column",
        "events",
        "extra_column.csv",
        kept=["e1", "e2"],
        warnings=["{file}: header: column 'session_id' is not in the contract and was ignored"],
    ),
    Kind(
        "wrong type",
        "customers",
        "wrong_type.csv",
        quarantine=[
            (3, "marketing_consent", "not a boolean (true/false)"),
            (4, "signup_at", "not a timestamp (expected ISO-8601 with offset)"),
        ],
        nulled=[(2, "lifetime_value", "not a number")],
        kept=["c1", "c2", "c5"],
    ),
    Kind("empty file", "events", "empty_file.csv", error="{file}: the file is empty (no header row)"),
    Kind(
        "header only (over a loaded day: refused; on a new day: a day without rows)",
        "events",
        "header_only.csv",
        error="{file}: no loadable rows (0 read, 0 quarantined), but raw.events already holds 3 rows "
        "for 2026-03-10; they were kept (delete that partition by hand if the day really has no events)",
        extra=_header_only_on_a_new_day_is_a_day_without_rows,
    ),
    Kind(
        "duplicate event ids within a file",
        "events",
        "duplicate_event_ids.csv",
        quarantine=[
            (2, "event_id", "duplicate event_id in this file (same values as row 1)"),
            (4, "event_id", "duplicate event_id with different values in this file (first at row 3)"),
        ],
        kept=["e1", "e2", "e5"],
    ),
    Kind(
        "null user_id and anonymous_id",
        "events",
        "null_user_and_anonymous_id.jsonl",
        quarantine=[
            (2, "user_id", "both user_id and anonymous_id are empty"),
            (3, "user_id", "both user_id and anonymous_id are empty"),
        ],
        kept=["e1", "e4"],
    ),
    Kind(
        "timestamps in the future",
        "events",
        "timestamps_in_the_future.csv",
        quarantine=[
            (2, "event_ts", "timestamp after the end of the partition day"),
            (3, "event_ts", "timestamp after the end of the partition day"),
        ],
        kept=["e1", "e4"],
    ),
    Kind(
        "timestamps before 2000",
        "customers",
        "timestamps_before_2000.csv",
        quarantine=[
            (1, "signup_at", "timestamp before 2000-01-01"),
            (3, "updated_at", "timestamp before 2000-01-01"),
        ],
        kept=["c2"],
    ),
    Kind(
        "unparseable timestamps",
        "events",
        "unparseable_timestamps.csv",
        quarantine=[(n, "event_ts", "not a timestamp (expected ISO-8601 with offset)") for n in (1, 2, 3, 4)],
        kept=["e5"],
    ),
    Kind(
        "mixed timezone offsets (normalised to UTC; a value without offset is read as UTC and warned)",
        "events",
        "mixed_timezone_offsets.csv",
        kept=["e1", "e2", "e3", "e4", "e5", "e6"],
        warnings=[
            "{file}: column 'event_ts': 1 values have no UTC offset and were read as UTC (first at row 6)"
        ],
        extra=_utc_values,
    ),
    Kind(
        "unknown IANA timezone",
        "customers",
        "unknown_iana_timezone.csv",
        quarantine=[(n, "timezone", "not a known IANA timezone") for n in (2, 3, 4)],
        kept=["c1", "c5"],
    ),
    Kind(
        "invalid emails",
        "customers",
        "invalid_emails.csv",
        quarantine=[
            *[(n, "email", "not a valid email address") for n in (2, 3, 4, 5)],
            (6, "email", "required value is empty"),
        ],
        kept=["c1"],
        extra=_emails_lowercased,
    ),
    Kind(
        "duplicate customers with conflicting values",
        "customers",
        "duplicate_customers_conflicting.csv",
        quarantine=[
            (
                1,
                "customer_id",
                "superseded by a later updated_at for the same customer_id in this file (row 3)",
            ),
            (
                2,
                "customer_id",
                "conflicting values for the same customer_id and updated_at in this file (rows 2, 4)",
            ),
            (
                4,
                "customer_id",
                "conflicting values for the same customer_id and updated_at in this file (rows 2, 4)",
            ),
            (6, "customer_id", "duplicate customer_id in this file (same values as row 5)"),
        ],
        kept=["c1", "c3", "c4"],
        extra=_latest_customer_wins,
    ),
    Kind(
        "non-UTF-8 bytes",
        "customers",
        "non_utf8_bytes.csv",
        nulled=[(2, "first_name", "contains bytes that are not UTF-8")],
        kept=["c1", "c2", "c3"],
        warnings=[
            "{file}: line 3: not UTF-8 (byte 0xe9 at offset 262); rows with such bytes are quarantined"
        ],
        extra=_non_utf8_record_shows_the_byte,
    ),
    Kind(
        "UTF-16 instead of UTF-8",
        "events",
        "utf16_encoded.csv",
        error="{file}: the file is UTF-16 (it starts with a UTF-16 byte-order mark); export it as UTF-8",
    ),
    Kind("UTF-8 byte-order mark", "events", "utf8_bom.csv", kept=["e1", "e2"]),
    Kind(
        "CRLF line endings",
        "events",
        "crlf_line_endings.csv",
        kept=["e1", "e2", "e3"],
        extra=_no_carriage_returns,
    ),
    Kind(
        "quoted line breaks in CSV (row is the data row; the line is named where it differs)",
        "events",
        "quoted_newlines.csv",
        quarantine=[(3, "event_ts", "not a timestamp (expected ISO-8601 with offset) (CSV line 7)")],
        kept=["e1", "e2", "e4"],
        extra=_quoted_values_kept,
    ),
    Kind(
        "too many fields in a row (unquoted comma)",
        "events",
        "too_many_fields.csv",
        quarantine=[(2, None, "row has 12 fields, the header has 11 (an unquoted comma?)")],
        kept=["e1", "e3"],
        extra=_whole_row_problems_are_described_without_a_column,
    ),
    Kind(
        "a column twice in the header",
        "events",
        "duplicate_header_column.csv",
        error="{file}: header: column 'event_id' appears more than once",
    ),
    Kind(
        "absurd numeric values",
        "events",
        "absurd_numeric_values.csv",
        nulled=[
            (2, "value", "above the allowed maximum 1e+07"),
            (3, "value", "not a finite number"),
            (4, "value", "below the allowed minimum -1e+07"),
        ],
        kept=["e1", "e2", "e3", "e4", "e5"],
        extra=_absurd_values_are_null_in_the_loaded_rows,
    ),
    Kind(
        "negative lifetime value (refunds above orders: a value a retailer has, loaded as it is)",
        "customers",
        "negative_lifetime_value.csv",
        kept=["c1", "c2", "c3"],
        extra=_negative_lifetime_values_are_loaded_as_exported,
    ),
    Kind(
        "broken JSON line",
        "email_events",
        "broken_json_line.jsonl",
        quarantine=[
            (2, None, "not valid JSON (Expecting ',' delimiter at character 50)"),
            (3, None, "not a JSON object (a JSON list)"),
        ],
        kept=["g1", "g4", "g6"],
    ),
    Kind(
        "Unix timestamps in milliseconds or negative",
        "email_events",
        "unix_timestamp_in_milliseconds.jsonl",
        quarantine=[
            (2, "timestamp", "not a Unix timestamp in seconds"),
            (3, "timestamp", "timestamp before 2000-01-01"),
        ],
        kept=["g1"],
    ),
    Kind(
        "Parquet event_ts as integers (over a loaded day: refused, naming column, reason and row; "
        "on a new day: quarantined row by row)",
        "events",
        "integer_event_ts.parquet",
        error="{file}: no loadable rows (4 read, 4 quarantined; column event_ts: not a timestamp (expected "
        "ISO-8601 with offset): 4 rows, first at row 1), but raw.events already holds 3 rows for 2026-03-10; "
        "they were kept (delete that partition by hand if the day really has no events)",
        extra=_on_a_new_day_each_row_is_quarantined_with_its_column_and_reason,
    ),
    Kind(
        "events older than the warehouse's look-back (dbt var lookback_days); a day late is kept",
        "events",
        "events_beyond_lookback.csv",
        quarantine=[
            (
                n,
                "event_ts",
                "timestamp more than 2 days before the partition day (beyond the warehouse's look-back)",
            )
            for n in (4, 5, 6)
        ],
        kept=["e1", "e2", "e3"],
    ),
    Kind(
        "NUL bytes in values",
        "events",
        "nul_bytes.csv",
        quarantine=[(2, "event_name", "contains a NUL byte")],
        nulled=[(3, "page", "contains a NUL byte")],
        kept=["e1", "e3", "e4"],
    ),
    Kind(
        "JSON objects and arrays where one value belongs",
        "events",
        "nested_values.jsonl",
        quarantine=[(2, "user_id", "a list or object, not a single value")],
        nulled=[
            (3, "page", "a list or object, not a single value"),
            (4, "value", "a list or object, not a single value"),
        ],
        kept=["e1", "e3", "e4", "e5"],
        extra=_nested_values_are_kept_as_json_in_the_quarantine,
    ),
    Kind(
        "Parquet list and struct values where one value belongs",
        "events",
        "nested_values.parquet",
        quarantine=[(1, "product_id", "a list or object, not a single value")],
        nulled=[(2, "category", "a list or object, not a single value")],
        kept=["e2", "e3"],
    ),
    Kind(
        "an email address as a header cell (shown by its position, never by name)",
        "customers",
        "address_in_header.csv",
        quarantine=[(2, "<column at position 12>", "row has 11 of 12 fields (missing delimiters?)")],
        kept=["c1", "c3"],
        warnings=[
            "{file}: header: the column at position 12 (name not shown) is not in the contract and was "
            "ignored"
        ],
        extra=_the_address_is_in_no_message,
    ),
    Kind(
        "an email address twice in the header",
        "events",
        "address_in_header_twice.csv",
        error="{file}: header: the column at position 12 (name not shown) appears more than once",
    ),
    Kind(
        "corrupt Parquet",
        "events",
        "corrupt_parquet.parquet",
        error="{file}: not a readable Parquet file (no PAR1 marker at the end of its 1,427 bytes: "
        "truncated or not Parquet)",
    ),
]


@pytest.mark.parametrize("kind", KINDS, ids=[k.fixture.rsplit(".", 1)[0] for k in KINDS])
def test_each_kind_of_bad_export(kind: Kind, make_landed) -> None:
    landed = make_landed(kind.source)
    before_day = landed.snapshot()
    stored_before = landed.keys(BEFORE)
    target = landed.land(kind.fixture)

    if kind.error is not None:
        with pytest.raises(IngestError) as raised:
            landed.load()
        assert str(raised.value) == kind.error.format(file=target)
        assert landed.snapshot() == before_day, "a refused file must leave the warehouse as it was"
        report = None
    else:
        report = landed.load()
        assert landed.quarantine() == kind.quarantine
        assert landed.quarantine(row_kept=True) == kind.nulled
        assert landed.keys() == kind.kept
        assert (report.rows_loaded, report.rows_quarantined) == (len(kind.kept), len(kind.quarantine))
        for warning in kind.warnings:
            assert warning.format(file=target) in report.warnings, report.warnings
        assert sum(report.quarantine_reasons.values()) == len(kind.quarantine)
        assert sum(report.values_set_to_null.values()) == len(kind.nulled)
        # Each quarantined record is JSON a person (or DuckDB's json functions) can read; the JSON Lines
        # reader once wrote NaN for a null.
        records = [r for (r,) in landed.con.execute("select raw_record from raw.quarantine").fetchall()]
        assert all(_is_strict_json(r) for r in records), records
    assert landed.keys(BEFORE) == stored_before, "the previously loaded day must be intact"
    if kind.extra:
        kind.extra(landed, report)


def test_the_catalog_covers_at_least_25_kinds_and_every_fixture() -> None:
    special = {
        "duplicate_event_ids_across_days.day1.csv",
        "duplicate_event_ids_across_days.day2.csv",
        "day_file_missing.csv",
        "same_day_delivered_twice.csv",
        "same_day_delivered_twice.jsonl",
        "same_day_reloaded.csv",
        "file_for_future_day.csv",
    }
    fixtures = {p.name for p in FIXTURES.iterdir() if p.suffix in {".csv", ".jsonl", ".parquet"}}
    assert fixtures == {k.fixture for k in KINDS} | special
    assert len(KINDS) + 5 >= 25  # + the five kinds about days and files below
    readme = (FIXTURES / "README.md").read_text()
    assert all(f"`{name}`" in readme for name in fixtures), "README.md lists every fixture"


# --- Kinds about days and files rather than rows -------------------------------------------


def test_duplicate_event_ids_across_days_are_kept_per_day_and_deduplicated_in_dbt_staging(
    make_landed,
) -> None:
    """Ingest keeps each day's file as delivered (so a reload of one day stays idempotent); the same
    event_id on two days is removed by dbt staging, tested with the real dbt build in
    tests/warehouse/test_dbt_build.py::test_duplicate_event_ids_count_once."""
    landed = make_landed("events")
    landed.land("duplicate_event_ids_across_days.day1.csv", day=BEFORE)
    landed.land("duplicate_event_ids_across_days.day2.csv", day=D)
    assert landed.load(BEFORE).rows_quarantined == 0
    assert landed.load(D).rows_quarantined == 0
    assert landed.keys(BEFORE) == ["x1", "x2"] and landed.keys(D) == ["x2", "x3"]


def test_a_days_file_missing_is_reported_and_changes_nothing(make_landed) -> None:
    landed = make_landed("events")
    landed.land("day_file_missing.csv", day=BEFORE)
    landed.load(BEFORE)
    landed.path(D, "csv").unlink()
    before = landed.snapshot()
    report = landed.load(D)
    assert report.missing and report.rows_loaded == 0
    assert report.summary == "events for 2026-03-10: no export file (events_2026-03-10.csv|jsonl|parquet)"
    assert landed.snapshot() == before
    assert landed.keys(D) == ["ok0310-0", "ok0310-1", "ok0310-2"], "D's earlier load is kept"
    assert landed.keys(BEFORE) == ["p1"]


def test_the_same_day_delivered_twice_is_refused_and_changes_nothing(make_landed) -> None:
    landed = make_landed("events")
    csv = landed.land("same_day_delivered_twice.csv")
    shutil.copyfile(FIXTURES / "same_day_delivered_twice.jsonl", landed.path(D, "jsonl"))
    before = landed.snapshot()
    with pytest.raises(IngestError) as raised:
        landed.load()
    assert str(raised.value) == (
        "events for 2026-03-10: more than one export (events_2026-03-10.csv, events_2026-03-10.jsonl) "
        f"in {csv.parent}; keep one and load again"
    )
    assert landed.snapshot() == before


def test_reloading_the_same_day_is_idempotent(make_landed) -> None:
    landed = make_landed("events")
    landed.land("same_day_reloaded.csv")
    first = landed.load()
    after_first = landed.snapshot()
    second = landed.load()
    assert landed.snapshot() == after_first
    assert (
        (first.rows_loaded, first.rows_quarantined) == (second.rows_loaded, second.rows_quarantined) == (2, 2)
    )
    assert landed.keys() == ["e1", "e2"]


def test_a_file_for_a_later_day_is_not_loaded_by_the_run_and_is_counted_not_warned_about(make_landed) -> None:
    # Guards a history load printing a warning for every later day on every day (117 in one load):
    # later files are expected there, and each is loaded on its own day.
    landed = make_landed("events")
    landed.land("file_for_future_day.csv", day=D + timedelta(days=3))
    report = landed.load(D)
    assert report.later_files == ["events_2026-03-13.csv"]
    assert not any("dated after" in warning for warning in report.warnings)
    assert landed.con.execute("select count(*) from raw.events where event_id = 'f1'").fetchall() == [(0,)]
    assert landed.keys(D) == ["ok0310-0", "ok0310-1", "ok0310-2"]


def test_misnamed_landing_files_are_ignored_and_reported(make_landed) -> None:
    landed = make_landed("events")
    for name in ("events_2026-03-10 (1).csv", "events_latest.csv", ".events_2026-03-10.csv.tmp"):
        shutil.copyfile(FIXTURES / "same_day_reloaded.csv", landed.path(D, "csv").parent / name)
    report = landed.load(D)
    assert report.file == str(landed.path(D, "csv"))
    assert (
        "events: landing file(s) not named events_YYYY-MM-DD.csv|jsonl|parquet were ignored "
        "(events_2026-03-10 (1).csv, events_latest.csv)" in report.warnings
    )
    assert landed.keys(D) == ["ok0310-0", "ok0310-1", "ok0310-2"]


# --- Files that are not what their name says (made by the test: links, folders, pipes) ---------------


def test_a_link_out_of_the_landing_folder_is_refused_unless_a_setting_allows_it(
    make_landed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Guards the regression where a link to another folder (or /etc/passwd) was read as the day's export."""
    landed = make_landed("events")
    elsewhere = tmp_path / "elsewhere" / "events.csv"
    elsewhere.parent.mkdir()
    elsewhere.write_text(good_file("events", D).replace("ok0310", "other"))
    target = landed.path(D, "csv")
    target.unlink()
    target.symlink_to(elsewhere)
    before = landed.snapshot()
    with pytest.raises(IngestError) as raised:
        landed.load()
    assert str(raised.value) == (
        f"{target}: a symbolic link to a file outside the landing folder {landed.landing}; not read "
        "(set REENGAGE_LANDING_FOLLOW_OUTSIDE_LINKS=true to allow links that leave it)"
    )
    assert landed.snapshot() == before

    monkeypatch.setenv(settings.LANDING_FOLLOW_OUTSIDE_LINKS, "true")
    landed.load()
    assert landed.keys() == ["other-0", "other-1", "other-2"]


def test_a_link_to_a_system_file_is_refused_before_it_is_read(make_landed) -> None:
    landed = make_landed("customers")
    target = landed.path(D, "csv")
    target.unlink()
    target.symlink_to("/etc/passwd")
    with pytest.raises(IngestError, match="a symbolic link to a file outside the landing folder"):
        landed.load()


def test_a_source_folder_linked_out_of_the_landing_folder_is_refused(make_landed, tmp_path: Path) -> None:
    landed = make_landed("events")
    folder = landed.path(D, "csv").parent
    outside = tmp_path / "other_landing_events"
    shutil.move(folder, outside)
    folder.symlink_to(outside, target_is_directory=True)
    with pytest.raises(IngestError, match="a symbolic link to a file outside the landing folder"):
        landed.load()


def test_a_link_inside_the_landing_folder_is_followed(make_landed) -> None:
    landed = make_landed("events")
    archive = landed.root / "landing" / "archive" / "events.csv"
    archive.parent.mkdir()
    archive.write_text(good_file("events", D).replace("ok0310", "archived"))
    target = landed.path(D, "csv")
    target.unlink()
    target.symlink_to(os.path.relpath(archive, target.parent))
    landed.load()
    assert landed.keys() == ["archived-0", "archived-1", "archived-2"]


@pytest.mark.parametrize(
    "make, problem",
    [
        (
            lambda path: path.symlink_to(path.parent / "gone.csv"),
            "a symbolic link whose target does not exist",
        ),
        (lambda path: path.mkdir(), "a directory, not an export file"),
        (lambda path: os.mkfifo(path), "not a regular file (a device, pipe or socket)"),
    ],
    ids=["dangling_link", "directory", "pipe"],
)
def test_a_name_like_an_export_that_is_no_readable_file_is_refused_by_name(
    make_landed, make, problem: str
) -> None:
    """Guards the regression where these raised a raw FileNotFoundError / IsADirectoryError (retried by the
    asset's retry policy) or, for a pipe, waited forever."""
    landed = make_landed("events")
    target = landed.path(D, "csv")
    target.unlink()
    make(target)
    before = landed.snapshot()
    with pytest.raises(IngestError) as raised:
        landed.load()
    assert str(raised.value) == f"{target}: {problem}; not read"
    assert landed.snapshot() == before


def test_the_lateness_bound_is_dbt_lookback_days_read_from_dbt_project_yml(
    make_landed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Guards against a copy of the number drifting from the warehouse's look-back."""
    project = tmp_path / "dbt_project"
    project.mkdir()
    text = (settings.DBT_PROJECT_DIR / "dbt_project.yml").read_text()
    (project / "dbt_project.yml").write_text(text.replace("lookback_days: 2\n", "lookback_days: 9\n"))
    monkeypatch.setattr(settings, "DBT_PROJECT_DIR", project)
    contracts.warehouse_lookback_days.cache_clear()
    try:
        landed = make_landed("events")
        landed.land("events_beyond_lookback.csv")
        landed.load()
        assert landed.keys() == ["e1", "e2", "e3", "e4", "e5"]
        assert landed.quarantine() == [
            (
                6,
                "event_ts",
                "timestamp more than 9 days before the partition day (beyond the warehouse's look-back)",
            )
        ]
    finally:
        contracts.warehouse_lookback_days.cache_clear()
