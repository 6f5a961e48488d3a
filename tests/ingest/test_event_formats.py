"""The events source reads the vendors' own exports (tests/fixtures/formats/): each sample goes
through the real loader into raw.events, a bad time is quarantined naming the vendor's field, a
file of another format is refused by name, and a landing folder's overrides are honoured."""

from __future__ import annotations

import csv
import io
import json
import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pytest

from reengage.defs.ingest.formats import EVENT_FORMATS
from reengage.defs.ingest.formats.snowplow import ENRICHED_TSV_COLUMNS
from reengage.defs.ingest.formats.spec import EventFormat, HashOf, event_name_here
from reengage.defs.ingest.loader import load_day
from reengage.defs.ingest.reader import IngestError
from reengage.event_catalog import known_event_names

SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "formats"


@dataclass(frozen=True)
class Sample:
    format: str
    file: str
    day: date
    extension: str
    time_field: str  # the field that holds the event time (for the bad-time case)
    bad_time_reason: str

    @property
    def path(self) -> Path:
        return SAMPLES / self.format / self.file


SAMPLE = {
    s.format: s
    for s in (
        Sample(
            "segment",
            "example_segment_pages.csv",
            date(2015, 2, 23),
            "csv",
            "timestamp",
            "not a UTC timestamp (YYYY-MM-DD HH:MM:SS[.ffffff])",
        ),
        Sample(
            "rudderstack",
            "tracks_pages_identifies_2022-03-01.csv",
            date(2022, 3, 1),
            "csv",
            "timestamp",
            "not a UTC timestamp (YYYY-MM-DD HH:MM:SS[.ffffff])",
        ),
        Sample(
            "ga4",
            "events_20210131.jsonl",
            date(2021, 1, 31),
            "jsonl",
            "event_timestamp",
            "not a Unix time in microseconds",
        ),
        Sample(
            "mixpanel",
            "export_2023-04-18.jsonl",
            date(2023, 4, 18),
            "jsonl",
            "properties.time",
            "not a Unix time in seconds",
        ),
        Sample(
            "amplitude",
            "export_2021-12-09.jsonl",
            date(2021, 12, 9),
            "jsonl",
            "event_time",
            "not a UTC timestamp (YYYY-MM-DD HH:MM:SS[.ffffff])",
        ),
        Sample(
            "snowplow",
            "enriched_event.tsv",
            date(2013, 11, 26),
            "tsv",
            "derived_tstamp",
            "not a UTC timestamp (YYYY-MM-DD HH:MM:SS[.ffffff])",
        ),
    )
}

# Per format: rows loaded, then some rows in full (event_id, user_id, anonymous_id, event_name,
# event_ts as UTC text to the microsecond): an anonymous one and one of an identified user.
EXPECTED = {
    "segment": (
        1,
        [
            (
                "ajs-9527e97fc714abe02a23b3d24cf09a36",
                "97980cfea0067",
                "507f191e810c19729de860ea",
                "page_view",
                "2015-02-23 22:28:55.000000",
            )
        ],
    ),
    "rudderstack": (
        6,
        [
            (
                "d2a4f3b8-1f0e-4c79-9b6e-000000000002",
                None,
                "8d872292-709c-4fe7-a0fd-1f1b0ec65f97",
                "product_view",
                "2022-03-01 10:01:30.250000",
            ),
            (
                "d2a4f3b8-1f0e-4c79-9b6e-000000000004",
                "user-5150",
                "8d872292-709c-4fe7-a0fd-1f1b0ec65f97",
                "identify",
                "2022-03-01 10:03:00.000000",
            ),
            (
                "d2a4f3b8-1f0e-4c79-9b6e-000000000006",
                None,
                "e0b8d1f4-3a2c-4d5e-9f60-7a8b9c0d1e2f",
                "page_view",
                "2022-03-01 18:30:00.000000",
            ),
        ],
    ),
    "ga4": (
        12,
        [
            (
                "cafe5b34038f9b141c378387ac2c3145",
                None,
                "1026454.4271112504",
                "product_view",
                "2021-01-31 09:02:05.654321",
            ),
            (
                "735fcfed066827918740a2f82ba96623",
                "u-1001",
                "1026454.4271112504",
                "purchase",
                "2021-01-31 09:08:30.999999",
            ),
        ],
    ),
    "mixpanel": (
        8,
        [
            (
                "c4b8a5f0a9f1e3b2",
                None,
                "18773f3e5b8c31-0d6b4b4a4a3a2b-1b525634-1d73c0-18773f3e5b92f9",
                "page_view",
                "2023-04-18 14:00:00.000000",
            ),
            (
                "c4b8a5f0a9f1e3b6",
                "c-2001",
                "18773f3e5b8c31-0d6b4b4a4a3a2b-1b525634-1d73c0-18773f3e5b92f9",
                "purchase",
                "2023-04-18 14:05:00.000000",
            ),
        ],
    ),
    "amplitude": (
        7,
        [
            (
                "5f1c9b0e-0a03",
                None,
                "b3e1c5a2-7d44-4f0e-9a51-2f8e6c1d7a90",
                "add_to_cart",
                "2021-12-09 00:46:40.120003",
            ),
            (
                "5f1c9b0e-0a05",
                "member-771",
                "b3e1c5a2-7d44-4f0e-9a51-2f8e6c1d7a90",
                "purchase",
                "2021-12-09 00:49:59.999999",
            ),
            # no $insert_id: Amplitude's own uuid is the id
            (
                "9c1d2e3f-58f6-11ec-8001-0a1b2c3d4e07",
                None,
                "f0c2d9e8-1b6a-4c3d-8e7f-5a4b3c2d1e0f",
                "product_view",
                "2021-12-09 09:11:12.250000",
            ),
        ],
    ),
    "snowplow": (
        1,
        [
            (
                "c6ef3124-b53a-4b13-a233-0088f79dcbcb",
                "jon.doe@email.com",
                "bc2e92ec6c204a14",
                "link_click",
                "2013-11-26 00:03:57.886000",
            )
        ],
    ),
}


def landing_with(
    tmp_path: Path, sample: Sample, text: str | None = None, declaration: str | None = None
) -> Path:
    """A landing folder holding `sample` (or `text` in its place) as the day's events export."""
    folder = tmp_path / "landing" / "events"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"events_{sample.day}.{sample.extension}"
    if text is None:
        shutil.copyfile(sample.path, target)
    else:
        target.write_text(text)
    (folder / "format.yml").write_text(declaration or f"format: {sample.format}\n")
    return tmp_path / "landing"


@pytest.fixture()
def con(tmp_path: Path):
    connection = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    connection.execute("set timezone = 'UTC'")
    yield connection
    connection.close()


def stored_events(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute(
        "select event_id, user_id, anonymous_id, event_name, strftime(event_ts, '%Y-%m-%d %H:%M:%S.%f') "
        "from raw.events order by _source_row"
    ).fetchall()


@pytest.mark.parametrize("fmt", list(SAMPLE))
def test_each_formats_sample_loads_into_raw_events_with_ids_names_utc_times_and_identity(
    tmp_path: Path, con, fmt: str
) -> None:
    # Guards the vendor formats themselves: without them a declared folder is read as the project's own
    # contract and every sample is refused for missing event_id, event_name and event_ts.
    sample = SAMPLE[fmt]
    report = load_day(con, str(landing_with(tmp_path, sample)), "events", sample.day)
    count, rows = EXPECTED[fmt]
    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (count, count, 0)
    assert report.warnings == []  # the vendor's UTC times are not "read as UTC for want of an offset"
    stored = stored_events(con)
    for row in rows:
        assert row in stored


def read_rows(sample: Sample) -> list:
    text = sample.path.read_text()
    if sample.extension == "jsonl":
        return [json.loads(line) for line in text.splitlines()]
    if sample.extension == "tsv":
        return [dict(zip(ENRICHED_TSV_COLUMNS, line.split("\t"), strict=True)) for line in text.splitlines()]
    return list(csv.DictReader(io.StringIO(text)))


def write_rows(sample: Sample, rows: list) -> str:
    if sample.extension == "jsonl":
        return "".join(json.dumps(row) + "\n" for row in rows)
    if sample.extension == "tsv":
        return "".join("\t".join(row[c] for c in ENRICHED_TSV_COLUMNS) + "\n" for row in rows)
    out = io.StringIO()
    writer = csv.DictWriter(out, list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


@pytest.mark.parametrize("fmt", list(SAMPLE))
def test_a_row_whose_time_the_format_cannot_read_is_quarantined_naming_its_row_and_field(
    tmp_path: Path, con, fmt: str
) -> None:
    # Guards the format's own time rule: a GA4 time that is not microseconds, a Mixpanel time that is
    # not seconds, a Snowplow stamp that is not UTC text, is a bad row (its row and the vendor's field
    # named), never a whole-file error nor a time read some other way; the other rows load.
    sample = SAMPLE[fmt]
    rows = read_rows(sample)
    bad_row = len(rows)  # the last row, 1-based
    *parents, leaf = sample.time_field.split(".")
    holder = rows[-1]
    for step in parents:
        holder = holder[step]
    holder[leaf] = "yesterday at noon"
    landing = landing_with(tmp_path, sample, write_rows(sample, rows))
    report = load_day(con, str(landing), "events", sample.day)
    assert report.rows_loaded == len(rows) - 1
    quarantined = con.execute('select row, "column", reason from raw.quarantine').fetchall()
    assert quarantined == [(bad_row, sample.time_field, sample.bad_time_reason)]


# Declared as the first format, the file is the second's sample: the message names the likely format.
WRONGLY_DECLARED = [
    ("segment", "ga4", "GA4 BigQuery export"),
    ("rudderstack", "mixpanel", "Mixpanel raw event export"),
    ("ga4", "amplitude", "Amplitude export"),
    ("mixpanel", "rudderstack", "Segment warehouse tables"),
    ("amplitude", "segment", "Segment warehouse tables"),
    ("snowplow", "ga4", "GA4 BigQuery export"),
]


@pytest.mark.parametrize(("declared", "actual", "likely"), WRONGLY_DECLARED)
def test_a_file_of_another_format_declared_wrongly_fails_with_one_error_naming_the_file(
    tmp_path: Path, con, declared: str, actual: str, likely: str
) -> None:
    # Guards against loading another vendor's rows through the wrong mapping (every row then lacks an
    # id or a time): one error names the file, the declaration and what the file looks like; nothing
    # is stored.
    sample = SAMPLE[actual]
    landing = landing_with(tmp_path, sample, declaration=f"format: {declared}\n")
    with pytest.raises(IngestError) as refused:
        load_day(con, str(landing), "events", sample.day)
    message = str(refused.value)
    assert message.startswith(f"{landing}/events/events_{sample.day}.{sample.extension}: declared as ")
    assert "in events/format.yml, but it has no " in message
    assert f"its fields are those of {likely}" in message
    assert con.execute("select count(*) from raw.events").fetchone() == (0,)
    assert con.execute("select count(*) from raw.quarantine").fetchone() == (0,)


def test_a_tab_separated_file_of_another_width_declared_as_snowplow_fails_naming_the_file(
    tmp_path: Path, con
) -> None:
    # Guards the headerless enriched-event reader: a TSV of other columns is not read position by
    # position into the wrong fields.
    sample = SAMPLE["snowplow"]
    landing = landing_with(tmp_path, sample, "e1\tu1\t2013-11-26 10:00:00\n")
    with pytest.raises(
        IngestError, match=r"events_2013-11-26\.tsv: line 1 has 3 tab-separated fields, not the 131"
    ):
        load_day(con, str(landing), "events", sample.day)


def test_a_vendor_export_in_an_undeclared_folder_is_refused_with_the_format_it_looks_like(
    tmp_path: Path, con
) -> None:
    # Guards the default: without a declaration the folder holds the project's own contract, and a
    # GA4 file there is refused by name, saying how to declare it.
    sample = SAMPLE["ga4"]
    landing = landing_with(tmp_path, sample)
    (landing / "events" / "format.yml").unlink()
    with pytest.raises(IngestError) as refused:
        load_day(con, str(landing), "events", sample.day)
    assert str(refused.value).endswith(
        "its fields are those of GA4 BigQuery export (`format: ga4`): declare it in events/format.yml"
    )


def test_a_tsv_file_is_refused_where_no_snowplow_format_is_declared(tmp_path: Path, con) -> None:
    # Guards the project's own contract: a headerless file is never read as if its columns were known.
    sample = SAMPLE["snowplow"]
    landing = landing_with(tmp_path, sample, declaration="format: reengage\n")
    with pytest.raises(IngestError, match=r"events_2013-11-26\.tsv: a \.tsv export is read only as Snowplow"):
        load_day(con, str(landing), "events", sample.day)


def test_an_overridden_mapping_is_honoured(tmp_path: Path, con) -> None:
    # Guards the folder's overrides: its event names are added to the format's, its columns replace the
    # format's, and its time unit replaces the format's (a Mixpanel export made in milliseconds).
    sample = SAMPLE["mixpanel"]
    rows = read_rows(sample)
    for row in rows:
        row["properties"]["time"] = row["properties"]["time"] * 1000 + 250
    declaration = """\
format: mixpanel
event_ts: unix_milliseconds
columns:
  device: properties.$browser
  channel: [properties.utm_source, properties.utm_medium]
event_names:
  Product Viewed: product_view
  Added to cart: add_to_cart
  Purchase: checkout_started
"""
    landing = landing_with(tmp_path, sample, write_rows(sample, rows), declaration)
    report = load_day(con, str(landing), "events", sample.day)
    assert (report.rows_loaded, report.rows_quarantined) == (8, 0)
    stored = con.execute(
        "select event_name, strftime(event_ts, '%H:%M:%S.%f'), device, channel "
        "from raw.events order by _source_row"
    ).fetchall()
    assert stored[:5] == [
        ("page_view", "14:00:00.250000", "Chrome", "email"),  # the format's own name is kept
        ("product_view", "14:01:00.250000", "Chrome", None),
        ("add_to_cart", "14:02:01.250000", "Chrome", None),
        ("login", "14:03:20.250000", "Chrome", None),  # not overridden: the common name it spells
        ("checkout_started", "14:05:00.250000", "Chrome", None),  # the folder's name wins
    ]


def test_an_event_id_made_from_fields_when_the_folder_says_so(tmp_path: Path, con) -> None:
    # Guards `hash_of`: an export without a usable id gets the same id for the same fields on every load.
    sample = SAMPLE["amplitude"]
    declaration = "format: amplitude\ncolumns:\n  event_id: {hash_of: [device_id, event_time, event_type]}\n"
    landing = landing_with(tmp_path, sample, declaration=declaration)
    load_day(con, str(landing), "events", sample.day)
    first = [row[0] for row in stored_events(con)]
    load_day(con, str(landing), "events", sample.day)
    assert [row[0] for row in stored_events(con)] == first
    assert len(set(first)) == 7 and all(len(event_id) == 32 for event_id in first)
    assert "5f1c9b0e-0a01" not in first


@pytest.mark.parametrize(
    ("source", "declaration", "message"),
    [
        ("events", "format: heap\n", "events/format.yml: format 'heap' is not one of reengage, segment,"),
        ("events", "format: ga4\ncolumns:\n  session: ga_session_id\n", "columns: 'session' is not a column"),
        ("events", "format: ga4\nevent_ts: nanoseconds\n", "event_ts 'nanoseconds' is not one of iso8601,"),
        ("events", "format: ga4\nmapping: {}\n", "unknown key 'mapping'"),
        ("events", "format: ga4\n\tcolumns: {}\n", "events/format.yml: line 2: not valid YAML"),
        (
            "customers",
            "format: segment\n",
            "customers/format.yml: only the events source reads vendor formats",
        ),
    ],
)
def test_a_declaration_that_cannot_be_followed_is_refused_naming_it(
    tmp_path: Path, con, source: str, declaration: str, message: str
) -> None:
    # Guards against a typo silently loading a folder as another format (or as the own contract).
    folder = tmp_path / "landing" / source
    folder.mkdir(parents=True)
    (folder / f"{source}_2021-01-31.csv").write_text("a\n1\n")
    (folder / "format.yml").write_text(declaration)
    with pytest.raises(IngestError) as refused:
        load_day(con, str(tmp_path / "landing"), source, date(2021, 1, 31))
    assert message in str(refused.value)


def test_the_declaration_file_is_not_reported_as_a_misnamed_export(tmp_path: Path, con) -> None:
    # Guards the landing listing: format.yml sits beside the exports without a warning each day.
    sample = SAMPLE["segment"]
    report = load_day(con, str(landing_with(tmp_path, sample)), "events", sample.day)
    assert not any("not named" in warning for warning in report.warnings)


def mapping_table(fmt: EventFormat) -> str:
    """A format's mapping as docs/formats.md shows it."""
    lines = ["| column | from the export (first non-empty wins) |", "|---|---|"]
    for column, source in fmt.columns.items():
        paths = source.paths if isinstance(source, HashOf) else source
        shown = ", ".join(f"`{path}`" for path in paths)
        lines.append(f"| `{column}` | {'hash of ' if isinstance(source, HashOf) else ''}{shown} |")
    names = ", ".join(f"`{vendor}` -> `{ours}`" for vendor, ours in fmt.event_names.items()) or "as exported"
    lines += ["", f"Time: `{fmt.timestamp}`. Event names: {names}."]
    return f"### {fmt.title} (`format: {fmt.name}`)\n\n" + "\n".join(lines) + "\n"


@pytest.mark.parametrize("fmt", list(EVENT_FORMATS))
def test_the_docs_show_each_formats_mapping_as_the_code_has_it(fmt: str) -> None:
    # Guards docs/formats.md against drifting from the mappings (the code is their one definition).
    docs = (Path(__file__).resolve().parents[2] / "docs" / "formats.md").read_text()
    assert mapping_table(EVENT_FORMATS[fmt]) in docs


@pytest.mark.parametrize("fmt", ["mixpanel", "amplitude"])
def test_free_form_e_commerce_names_load_as_the_catalogs_whatever_their_case_and_separators(
    tmp_path: Path, con, fmt: str
) -> None:
    # Guards Mixpanel's and Amplitude's samples loading `Purchase`, `order completed`, `view item` and
    # `Added to cart` as unknown names: their purchases were never purchases, their views never views.
    sample = SAMPLE[fmt]
    load_day(con, str(landing_with(tmp_path, sample)), "events", sample.day)
    names = {row[0] for row in con.execute("select distinct event_name from raw.events").fetchall()}
    assert names <= known_event_names(), names - known_event_names()
    assert "purchase" in names


def test_a_folders_own_name_for_an_event_wins_over_the_common_reading() -> None:
    fmt = EVENT_FORMATS["mixpanel"].with_overrides(event_names={"Purchase": "checkout_started"})
    assert event_name_here("Purchase", fmt) == "checkout_started"
    assert event_name_here("PURCHASE", fmt) == "purchase"
    assert event_name_here("Wishlist Added", fmt) == "Wishlist Added"
