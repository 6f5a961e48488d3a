"""The real ingest assets through Dagster: what they say about an export, and when a failure is final.

What they say never repeats an address (or any other value) from an export: the event log records,
every file a persistent instance wrote (event storage, compute logs), the console and the metadata are
searched for the address that the exports carried where a column or a file name belongs.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import dagster as dg
import pytest
from dagster_shared.serdes import serialize_value

from reengage import settings
from reengage.defs.ingest.assets import ingest_asset
from reengage.warehouse import WarehouseResource

raw_customers = ingest_asset("customers")
raw_email_events = ingest_asset("email_events")
raw_events = ingest_asset("events")

D = date(2026, 3, 10)
ADDRESS = "ann.lee@example.com"
EVENTS = "event_id,user_id,anonymous_id,event_name,event_ts,page,product_id,category,value,device,channel"
CUSTOMERS = (
    "customer_id,email,first_name,country,timezone,signup_at,plan,lifetime_value,"
    "marketing_consent,consent_updated_at,updated_at"
)
CUSTOMER = "c{n},c{n}@example.com,Cy,DE,Europe/Berlin,2026-01-05T09:00:00Z,free,1,true,,2026-03-10T07:00:00Z"


def land(source: str, name: str, text: str) -> None:
    path = Path(settings.landing_dir()) / source / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def land_exports_carrying_the_address() -> None:
    # customers: the address is a header cell; row 2 is short, so its missing column is that one.
    rows = [CUSTOMER.format(n=1) + ",x", CUSTOMER.format(n=2), CUSTOMER.format(n=3) + ",y"]
    land("customers", f"customers_{D}.csv", "\n".join([f"{CUSTOMERS},{ADDRESS}", *rows]) + "\n")
    # ... and a file named after it lies beside the day's export.
    land("customers", f"{ADDRESS}.csv", "x\n")
    # events: the address twice in the header refuses the file (a failure description).
    land(
        "events",
        f"events_{D}.csv",
        f"{EVENTS},{ADDRESS},{ADDRESS}\ne1,u1,a1,x,2026-03-10T08:00:00Z,,,,,,,1,2\n",
    )
    # email events: a JSON key, and the address as a semicolon-separated header elsewhere is no matter.
    record = {"email": "c1@example.com", "event": "open", "timestamp": 1773133200, ADDRESS: "1"}
    land("email_events", f"email_events_{D}.jsonl", json.dumps(record) + "\n")


def test_an_address_in_headers_and_file_names_reaches_no_log_record_file_console_or_metadata(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """Guards the regression where warnings such as "column 'x@y.com' is not in the contract" carried the
    address into the Dagster event log, compute logs and console."""
    land_exports_carrying_the_address()
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    instance = dg.DagsterInstance.local_temp(str(dagster_home))
    result = dg.materialize(
        [raw_customers, raw_events, raw_email_events],
        partition_key=D.isoformat(),
        resources={"warehouse": WarehouseResource()},
        instance=instance,
        raise_on_error=False,
    )

    # The run did report what it met (so this test cannot pass by saying nothing).
    metadata = result.asset_materializations_for_node("raw__customers")[0].metadata
    warnings = metadata["warnings"].value
    assert "the column at position 12 (name not shown) is not in the contract" in warnings
    assert "<a file whose name is not shown>" in warnings
    assert metadata["quarantine_by_reason"].value.count("<column at position 12>") == 1
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert failure.step_key == "raw__events"
    assert "the column at position 12 (name not shown) appears more than once" in str(
        failure.step_failure_data.error
    )
    email_warnings = result.asset_materializations_for_node("raw__email_events")[0].metadata["warnings"].value
    assert "the column at position 4 (name not shown) is not in the contract" in email_warnings

    records = [serialize_value(record) for record in instance.all_logs(result.run_id)]
    assert records and not [r for r in records if ADDRESS in r]
    written = [p for p in dagster_home.rglob("*") if p.is_file()]
    assert written and not [p for p in written if ADDRESS.encode() in p.read_bytes()]
    out, err = capfd.readouterr()
    assert "raw__customers" in out + err and ADDRESS not in out + err


def test_a_dangling_link_named_like_an_export_fails_ingest_at_once_naming_it_without_a_retry() -> None:
    """Guards the regression where it raised a raw FileNotFoundError, which the landing-read retry policy
    retried three times before failing the same way."""
    path = Path(settings.landing_dir()) / "events" / f"events_{D}.csv"
    path.parent.mkdir(parents=True)
    path.symlink_to(path.parent / "moved_away.csv")
    result = dg.materialize(
        [raw_events],
        partition_key=D.isoformat(),
        resources={"warehouse": WarehouseResource()},
        raise_on_error=False,
    )
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert failure.step_failure_data.user_failure_data.description == (
        f"{path}: a symbolic link whose target does not exist; not read"
    )
    assert not [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY]


def test_event_names_outside_the_event_catalog_are_reported_with_their_counts_in_the_events_metadata() -> (
    None
):
    # Guards against a tracker's new event (order_shipped, say) loading silently: it was only a
    # warning-level expectation, with no count and no name, and it counted as a passive event.
    rows = [
        "e1,u1,a1,page_view,2026-03-10T08:00:00Z",
        "e2,u1,a1,Order_Shipped,2026-03-10T08:01:00Z",
        "e3,u2,a2, order_shipped ,2026-03-10T08:02:00Z",
        "e4,u2,a2,wishlist_add,2026-03-10T08:03:00Z",
        f"e5,u2,a2,{ADDRESS},2026-03-10T08:04:00Z",
    ]
    header = "event_id,user_id,anonymous_id,event_name,event_ts"
    land("events", f"events_{D}.csv", "\n".join([header, *rows]) + "\n")
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        [raw_events],
        partition_key=D.isoformat(),
        resources={"warehouse": WarehouseResource()},
        instance=instance,
    )
    metadata = result.asset_materializations_for_node("raw__events")[0].metadata
    logged = [record.user_message for record in instance.all_logs(result.run_id)]
    assert any(
        "column 'event_name': 4 rows hold 3 values not in dbt_project/seeds/event_catalog.csv" in line
        for line in logged
    ), "the run log says how many rows name what the catalog lacks"
    assert metadata["unknown_event_name_rows"].value == 4
    assert metadata["unknown_event_name_values"].value == (
        "| event_name | rows |\n|---|---|\n| order_shipped | 2 |\n| wishlist_add | 1 |\n"
        "| (1 values not shown) | 1 |"
    )
