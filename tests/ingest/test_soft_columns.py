"""Ingest refuses values, not people: a bad value in a soft column is set to null and its row kept, with
a warning row in raw.quarantine; consent, identity, keys and timestamps keep refusing the row."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest

from reengage.defs.ingest import reader
from reengage.defs.ingest.contracts import CONTRACTS
from reengage.defs.ingest.loader import describe_quarantine, load_day

DAY = date(2026, 3, 10)
CUSTOMERS = CONTRACTS["customers"]


def customer(customer_id: str, **values: str) -> list[str]:
    """A good CRM row built from the contract's examples, with `values` changed."""
    row = {c.name: c.example for c in CUSTOMERS.columns} | {"customer_id": customer_id}
    row["email"] = f"{customer_id}@example.com"
    return [(row | values)[name] for name in CUSTOMERS.names]


def land_customers(landing: Path, *rows: list[str]) -> None:
    folder = landing / "customers"
    folder.mkdir(parents=True, exist_ok=True)
    lines = [",".join(CUSTOMERS.names), *(",".join(row) for row in rows)]
    (folder / f"customers_{DAY}.csv").write_text("\n".join(lines) + "\n")


@pytest.fixture()
def con():
    connection = duckdb.connect()
    yield connection
    connection.close()


def loaded(con, column: str) -> list[tuple]:
    return con.execute(f"select customer_id, {column} from raw.customers order by customer_id").fetchall()


def quarantine(con) -> list[tuple]:
    return con.execute(
        'select row, "column", reason, row_kept from raw.quarantine order by row, "column"'
    ).fetchall()


def test_a_customer_whose_refunds_exceed_their_orders_is_loaded_with_their_negative_lifetime_value(
    tmp_path: Path, con
) -> None:
    # Guards against refusing a normal retail customer: a negative lifetime value once quarantined
    # the whole CRM row, so the customer was held back from every campaign and their events
    # belonged to nobody.
    land_customers(tmp_path, customer("c1", lifetime_value="-120.50"))
    report = load_day(con, str(tmp_path), "customers", DAY)
    assert (report.rows_loaded, report.rows_quarantined, report.values_set_to_null) == (1, 0, {})
    assert loaded(con, "lifetime_value") == [("c1", -120.5)]
    assert quarantine(con) == []


def test_an_absurd_lifetime_value_is_set_to_null_the_customer_kept_and_one_warning_row_names_it(
    tmp_path: Path, con
) -> None:
    # Guards against one implausible number costing a customer: the row was refused, and with it the
    # consent and address the row carried.
    land_customers(tmp_path, customer("c1"), customer("c2", lifetime_value="3e15"))
    report = load_day(con, str(tmp_path), "customers", DAY)
    assert (report.rows_loaded, report.rows_quarantined) == (2, 0)
    assert loaded(con, "lifetime_value") == [("c1", 249.9), ("c2", None)]
    assert loaded(con, "marketing_consent") == [("c1", True), ("c2", True)]
    assert quarantine(con) == [(2, "lifetime_value", "above the allowed maximum 1e+09", True)]
    assert report.values_set_to_null == {"lifetime_value: above the allowed maximum 1e+09": 1}
    assert describe_quarantine(con, "customers", DAY) == [
        f"{tmp_path}/customers/customers_{DAY}.csv: row 2, column lifetime_value: above the allowed "
        "maximum 1e+09 (value set to null, row kept)"
    ]


def test_consent_and_identity_problems_still_refuse_the_row_and_are_what_its_refusal_names(
    tmp_path: Path, con
) -> None:
    # Guards the consent rules: a row whose consent or identity is in doubt is never loaded (the
    # customer is then held back), and its refusal names that problem, not a soft one found first.
    land_customers(
        tmp_path,
        customer("c1", lifetime_value="abc", marketing_consent="maybe"),
        customer("c2", first_name="Ann", consent_updated_at="last week"),
        customer("c3", email="not-an-address", plan="gold"),
        customer("", country="FR"),
        customer("c5", lifetime_value="abc"),
    )
    report = load_day(con, str(tmp_path), "customers", DAY)
    assert loaded(con, "lifetime_value") == [("c5", None)]
    assert quarantine(con) == [
        (1, "marketing_consent", "not a boolean (true/false)", False),
        (2, "consent_updated_at", "not a timestamp (expected ISO-8601 with offset)", False),
        (3, "email", "not a valid email address", False),
        (4, "customer_id", "required value is empty", False),
        (5, "lifetime_value", "not a number", True),
    ]
    assert report.rows_quarantined == 4


def test_a_file_read_in_chunks_sets_the_same_values_to_null_as_one_read_at_once(
    tmp_path: Path, con, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Guards the chunked reader's duplicate pass: a row kept with a value set to null and later found
    # to repeat a key of another chunk must leave one refusal, not a warning for a row not loaded.
    land_customers(
        tmp_path,
        customer("c1", lifetime_value="abc", updated_at="2026-03-10T06:00:00Z"),
        customer("c2"),
        customer("c1", lifetime_value="abc", updated_at="2026-03-10T07:00:00Z"),
        customer("c3"),
    )
    load_day(con, str(tmp_path), "customers", DAY)
    at_once = (loaded(con, "lifetime_value"), quarantine(con))
    monkeypatch.setattr(reader, "CHUNK_ROWS", 2)
    report = load_day(con, str(tmp_path), "customers", DAY)
    assert (loaded(con, "lifetime_value"), quarantine(con)) == at_once
    assert at_once == (
        [("c1", None), ("c2", 249.9), ("c3", 249.9)],
        [
            (
                1,
                "customer_id",
                "superseded by a later updated_at for the same customer_id in this file (row 3)",
                False,
            ),
            (3, "lifetime_value", "not a number", True),
        ],
    )
    assert report.values_set_to_null == {"lifetime_value: not a number": 1}


def test_a_phone_that_is_no_e164_number_is_set_to_null_never_repaired_and_the_customer_kept(
    tmp_path: Path, con
) -> None:
    # Guards the SMS contact: a number without its country or with spaces was either refused with the
    # whole customer (no email either) or, worse, would be completed into somebody else's number.
    land_customers(
        tmp_path,
        customer("c1", phone="+4915123456789"),
        customer("c2", phone="0151 2345678"),
        customer("c3", phone="+49 151 2345678"),
        customer("c4", phone="+0049151234"),
        customer("c5", phone=""),
    )
    report = load_day(con, str(tmp_path), "customers", DAY)
    assert (report.rows_loaded, report.rows_quarantined) == (5, 0)
    assert loaded(con, "phone") == [
        ("c1", "+4915123456789"),
        ("c2", None),
        ("c3", None),
        ("c4", None),
        ("c5", None),
    ]
    assert loaded(con, "marketing_consent") == [(f"c{n}", True) for n in range(1, 6)]
    assert quarantine(con) == [(row, "phone", "not an E.164 phone number", True) for row in (2, 3, 4)]
    assert describe_quarantine(con, "customers", DAY)[0] == (
        f"{tmp_path}/customers/customers_{DAY}.csv: row 2, column phone: not an E.164 phone number "
        "(value set to null, row kept)"
    )


def test_an_sms_consent_in_doubt_refuses_the_row_as_an_email_consent_in_doubt_does(
    tmp_path: Path, con
) -> None:
    # Guards the fail-safe rule on the second channel: "maybe" as SMS consent must not load as a
    # customer without an SMS consent value (which later checks could read as "never asked").
    land_customers(
        tmp_path,
        customer("c1", sms_consent="maybe"),
        customer("c2", sms_consent_updated_at="yesterday"),
        customer("c3", sms_consent="false", phone="+4915123456789"),
    )
    load_day(con, str(tmp_path), "customers", DAY)
    assert loaded(con, "sms_consent") == [("c3", False)]
    assert quarantine(con) == [
        (1, "sms_consent", "not a boolean (true/false)", False),
        (2, "sms_consent_updated_at", "not a timestamp (expected ISO-8601 with offset)", False),
    ]


def test_a_crm_export_without_phone_or_sms_consent_loads_with_nobody_textable(tmp_path: Path, con) -> None:
    # Guards CRMs that hold no phone numbers: the new columns are optional, and their absence is null
    # (no number, no SMS consent), never a refused file.
    email_only = [n for n in CUSTOMERS.names if n not in ("phone", "sms_consent", "sms_consent_updated_at")]
    folder = tmp_path / "customers"
    folder.mkdir(parents=True)
    row = {c.name: c.example for c in CUSTOMERS.columns}
    (folder / f"customers_{DAY}.csv").write_text(
        ",".join(email_only) + "\n" + ",".join(row[n] for n in email_only) + "\n"
    )
    report = load_day(con, str(tmp_path), "customers", DAY)
    assert report.rows_loaded == 1
    assert con.execute("select phone, sms_consent, sms_consent_updated_at from raw.customers").fetchall() == [
        (None, None, None)
    ]
