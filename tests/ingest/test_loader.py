"""Loading one day's export: typed rows kept, bad rows quarantined with file/row/column, reloads
idempotent."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from reengage import settings
from reengage.defs.ingest.contracts import EMAIL_EVENT_TYPES
from reengage.defs.ingest.loader import describe_quarantine, load_day
from reengage.defs.ingest.reader import IngestError
from reengage.schema.declared import RAW_TABLES

DAY = date(2026, 3, 10)
EVENT_HEADER = (
    "event_id,user_id,anonymous_id,event_name,event_ts,page,product_id,category,value,device,channel"
)


def write(landing: Path, source: str, name: str, text: str | bytes) -> Path:
    path = landing / source / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def event_rows(*rows: str) -> str:
    return "\n".join([EVENT_HEADER, *rows]) + "\n"


GOOD_EVENTS = event_rows(
    "e1,u1,a1,page_view,2026-03-10T08:00:00Z,/home,,,,web,organic",
    "e2,,a2,product_view,2026-03-10T09:30:00+02:00,/p/1,p1,shoes,,mobile,email",
    "e3,u1,a1,purchase,2026-03-10T10:00:00Z,/checkout,p1,shoes,49.5,web,organic",
)


@pytest.fixture()
def con(tmp_path: Path):
    connection = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    yield connection
    connection.close()


def test_a_days_events_load_typed_with_their_lineage(tmp_path: Path, con) -> None:
    write(tmp_path, "events", f"events_{DAY}.csv", GOOD_EVENTS)
    report = load_day(con, str(tmp_path), "events", DAY)
    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (3, 3, 0)
    rows = con.execute(
        "select event_id, event_ts = timestamptz '2026-03-10 07:30:00+00', value, _source_row, "
        "_partition_date from raw.events order by event_id"
    ).fetchall()
    assert rows[1] == ("e2", True, None, 2, DAY), "offsets are normalised to UTC"
    assert rows[2][2] == pytest.approx(49.5)


def test_loading_the_same_day_twice_leaves_the_same_rows(tmp_path: Path, con) -> None:
    write(tmp_path, "events", f"events_{DAY}.csv", GOOD_EVENTS)
    load_day(con, str(tmp_path), "events", DAY)
    first = con.execute("select * exclude (_loaded_at) from raw.events order by event_id").fetchall()
    load_day(con, str(tmp_path), "events", DAY)
    second = con.execute("select * exclude (_loaded_at) from raw.events order by event_id").fetchall()
    assert first == second and len(second) == 3


def test_bad_rows_are_quarantined_with_row_column_and_reason_and_good_rows_kept(tmp_path: Path, con) -> None:
    write(
        tmp_path,
        "events",
        f"events_{DAY}.csv",
        event_rows(
            "e1,u1,a1,page_view,2026-03-10T08:00:00Z,,,,,web,organic",
            "e1,u1,a1,page_view,2026-03-10T08:00:00Z,,,,,web,organic",
            "e3,,,page_view,2026-03-10T08:00:00Z,,,,,web,organic",
            "e4,u1,a1,page_view,yesterday,,,,,web,organic",
            "e5,u1,a1,page_view,2031-01-01T00:00:00Z,,,,,web,organic",
            "e6,u1,a1,page_view,1999-12-31T00:00:00Z,,,,,web,organic",
            "e7,u1,a1,purchase,2026-03-10T08:00:00Z,,,,lots,web,organic",
            "e8,u2,a2,page_view,2026-03-10T11:00:00Z,,,,,web,organic",
        ),
    )
    report = load_day(con, str(tmp_path), "events", DAY)
    assert report.rows_loaded == 3
    assert con.execute("select list(event_id order by event_id) from raw.events").fetchone()[0] == [
        "e1",
        "e7",
        "e8",
    ]
    quarantined = con.execute(
        'select row, "column", reason, row_kept from raw.quarantine order by row'
    ).fetchall()
    assert quarantined == [
        (2, "event_id", "duplicate event_id in this file (same values as row 1)", False),
        (3, "user_id", "both user_id and anonymous_id are empty", False),
        (4, "event_ts", "not a timestamp (expected ISO-8601 with offset)", False),
        (5, "event_ts", "timestamp after the end of the partition day", False),
        (6, "event_ts", "timestamp before 2000-01-01", False),
        (7, "value", "not a number", True),  # value is soft: the purchase is kept, its value null
    ]
    lines = describe_quarantine(con, "events", DAY)
    assert lines[0].endswith(
        f"events_{DAY}.csv: row 2, column event_id: duplicate event_id in this file (same values as row 1)"
    )


def test_customers_with_invalid_email_or_unknown_timezone_are_quarantined(tmp_path: Path, con) -> None:
    header = (
        "customer_id,email,first_name,country,timezone,signup_at,plan,lifetime_value,"
        "marketing_consent,consent_updated_at,updated_at"
    )
    write(
        tmp_path,
        "customers",
        f"customers_{DAY}.csv",
        "\n".join(
            [
                header,
                "c1,Ann@Example.com,Ann,US,America/New_York,2026-01-01T00:00:00Z,pro,10,true,,2026-03-10T00:00:00Z",
                "c2,not-an-email,Bo,US,America/New_York,2026-01-01T00:00:00Z,pro,10,true,,2026-03-10T00:00:00Z",
                "c3,c@example.com,Cy,US,Mars/Olympus,2026-01-01T00:00:00Z,pro,10,true,,2026-03-10T00:00:00Z",
                "c4,d@example.com,Di,US,Europe/Paris,2026-01-01T00:00:00Z,pro,-5,true,,2026-03-10T00:00:00Z",
                "c5,e@example.com,Ed,US,Europe/Paris,2026-01-01T00:00:00Z,pro,5,maybe,,2026-03-10T00:00:00Z",
            ]
        ),
    )
    load_day(con, str(tmp_path), "customers", DAY)
    assert con.execute("select customer_id, email from raw.customers order by all").fetchall() == [
        ("c1", "ann@example.com"),
        ("c4", "d@example.com"),  # a negative lifetime value is refused, not the customer
    ]
    assert con.execute("select lifetime_value from raw.customers where customer_id = 'c4'").fetchone() == (
        None,
    )
    reasons = dict(con.execute('select row, "column" from raw.quarantine').fetchall())
    assert reasons == {2: "email", 3: "timezone", 4: "lifetime_value", 5: "marketing_consent"}


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_json_lines_and_parquet_exports_load_like_csv(tmp_path: Path, con, fmt: str) -> None:
    frame = pd.DataFrame(
        {
            "email": ["a@example.com", "b@example.com"],
            "event": ["delivered", "teleported"],
            "timestamp": [1773129600, 1773129700],
            "sg_message_id": ["m1", "m2"],
            "send_id": ["s1", "s2"],
            "campaign_id": ["welcome", "welcome"],
            "variant": ["control", "control"],
            "run_date": ["2026-03-10", "2026-03-10"],
        }
    )
    path = tmp_path / "email_events" / f"email_events_{DAY}.{fmt}"
    path.parent.mkdir(parents=True)
    if fmt == "jsonl":
        path.write_text("\n".join(json.dumps(r) for r in frame.to_dict(orient="records")) + "\n")
    else:
        frame.to_parquet(path)
    report = load_day(con, str(tmp_path), "email_events", DAY)
    assert (report.rows_loaded, report.rows_quarantined) == (1, 1)
    row = con.execute("select event, timestamp, run_date from raw.email_events").fetchone()
    assert row[0] == "delivered" and row[1].year == 2026 and row[2] == DAY
    assert con.execute('select "column", reason from raw.quarantine').fetchone() == (
        "event",
        "not a SendGrid event type",
    )


def test_webhook_event_types_and_addresses_are_normalised_not_refused(tmp_path: Path, con) -> None:
    # Guards suppressions failing safe: `Unsubscribe` with a capital U (and `Group-Unsubscribe`, `Spam
    # Report`) was quarantined as "not a SendGrid event type", so the address was never suppressed. Case,
    # padding and separators carry no meaning here; a type that names none of them is still refused.
    write(
        tmp_path,
        "email_events",
        f"email_events_{DAY}.csv",
        "email,event,timestamp\n"
        " Bob@Example.COM ,Unsubscribe,1773129600\n"
        "ann@example.com, GROUP_UNSUBSCRIBE ,1773129600\n"
        "cy@example.com,Spam Report,1773129600\n"
        "di@example.com,group-unsubscribe,1773129600\n"
        "ed@example.com,unsub,1773129600\n",
    )
    report = load_day(con, str(tmp_path), "email_events", DAY)
    assert (report.rows_loaded, report.rows_quarantined) == (4, 1)
    assert con.execute("select email, event from raw.email_events order by _source_row").fetchall() == [
        ("bob@example.com", "unsubscribe"),
        ("ann@example.com", "group_unsubscribe"),
        ("cy@example.com", "spamreport"),
        ("di@example.com", "group_unsubscribe"),
    ]
    assert con.execute('select row, "column" from raw.quarantine').fetchall() == [(5, "event")]


def test_a_missing_column_names_the_file_and_the_likely_rename(tmp_path: Path, con) -> None:
    write(tmp_path, "events", f"events_{DAY}.csv", GOOD_EVENTS.replace("event_ts", "event_time", 1))
    with pytest.raises(
        IngestError,
        match=r"events_2026-03-10\.csv: header: required column 'event_ts' is missing "
        r"\(found 'event_time': renamed\?\)",
    ):
        load_day(con, str(tmp_path), "events", DAY)


def test_a_non_utf8_row_is_quarantined_with_its_column_and_the_line_is_warned(tmp_path: Path, con) -> None:
    path = write(tmp_path, "events", f"events_{DAY}.csv", GOOD_EVENTS)
    path.write_bytes(GOOD_EVENTS.encode() + b"e9,u\xe9,a1,page_view,2026-03-10T08:00:00Z,/cafe,,,,web,x\n")
    report = load_day(con, str(tmp_path), "events", DAY)
    assert (report.rows_loaded, report.rows_quarantined) == (3, 1)
    assert any("line 5: not UTF-8 (byte 0xe9" in w for w in report.warnings)
    assert con.execute('select row, "column", reason from raw.quarantine').fetchall() == [
        (4, "user_id", "contains bytes that are not UTF-8")
    ]


def test_a_load_that_fails_midway_rolls_back_to_the_stored_partition(tmp_path: Path, con) -> None:
    write(tmp_path, "events", f"events_{DAY}.csv", GOOD_EVENTS)
    load_day(con, str(tmp_path), "events", DAY)
    # A constraint the new file breaks makes the insert fail after the partition's delete.
    con.execute("create table events_copy as select * from raw.events")
    con.execute("drop table raw.events")
    con.execute(f"create table raw.events ({RAW_TABLES['events'].columns_sql()}, check (value < 100))")
    con.execute("insert into raw.events select * from events_copy")
    write(tmp_path, "events", f"events_{DAY}.csv", GOOD_EVENTS.replace("49.5", "500"))
    with pytest.raises(IngestError, match="rolled back"):
        load_day(con, str(tmp_path), "events", DAY)
    assert con.execute("select count(*), max(value) from raw.events").fetchone() == (3, 49.5)


def test_a_missing_day_is_reported_and_changes_nothing(tmp_path: Path, con) -> None:
    report = load_day(con, str(tmp_path), "events", DAY)
    assert report.missing and report.rows_loaded == 0


def test_two_files_for_one_day_are_refused(tmp_path: Path, con) -> None:
    write(tmp_path, "events", f"events_{DAY}.csv", GOOD_EVENTS)
    write(tmp_path, "events", f"events_{DAY}.jsonl", "")
    with pytest.raises(IngestError, match="more than one export"):
        load_day(con, str(tmp_path), "events", DAY)


def test_an_empty_json_lines_file_is_a_day_without_rows(tmp_path: Path, con) -> None:
    write(tmp_path, "email_events", f"email_events_{DAY}.jsonl", "")
    report = load_day(con, str(tmp_path), "email_events", DAY)
    assert not report.missing and report.rows_loaded == 0


def test_a_header_only_csv_with_a_missing_column_is_still_refused(tmp_path: Path, con) -> None:
    write(tmp_path, "events", f"events_{DAY}.csv", EVENT_HEADER.replace(",event_name", "") + "\n")
    with pytest.raises(IngestError, match="required column 'event_name' is missing"):
        load_day(con, str(tmp_path), "events", DAY)


def test_the_warehouse_reads_a_refused_rows_event_type_with_every_name_ingest_knows() -> None:
    # Guards the two lists drifting: a refused suppression's type is read back in dbt under the names
    # stg_sendgrid__refused_email_events lists, which must include every type ingest accepts.
    model = (
        settings.DBT_PROJECT_DIR / "models/staging/sendgrid/stg_sendgrid__refused_email_events.sql"
    ).read_text()
    listed = set(re.findall(r"'([a-z_]+)'", model.split("%}", 1)[0]))
    assert set(EMAIL_EVENT_TYPES) <= listed
