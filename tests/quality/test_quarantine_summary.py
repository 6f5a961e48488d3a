"""The quality group's summary shows a person what was refused at ingest, without any raw values, and
what was loaded but names nothing known."""

from datetime import date

import dagster as dg

from reengage.defs.quality.quarantine import quarantine_summary
from reengage.warehouse import WarehouseResource, connect

DAY = date(2026, 3, 10)


def summary_metadata(path) -> dict:
    """The quarantine summary's metadata for DAY, materialized over the warehouse at `path`."""
    result = dg.materialize(
        [quarantine_summary],
        partition_key=DAY.isoformat(),
        resources={"warehouse": WarehouseResource(path=str(path))},
        selection=[quarantine_summary],
    )
    return result.asset_materializations_for_node("quarantine_summary")[0].metadata


def test_quarantine_summary_counts_refused_rows_by_reason_and_never_shows_their_values(tmp_path) -> None:
    path = tmp_path / "warehouse.duckdb"
    with connect(path) as con:  # migrates: raw.quarantine exists
        con.execute(
            "insert into raw.quarantine values "
            "('customers', 'c.csv', 2, 'email', 'not a valid email address', '{\"e\": \"x@\"}', false, ?, "
            "now()),"
            "('customers', 'c.csv', 5, 'email', 'not a valid email address', '{\"e\": \"y@\"}', false, ?, "
            "now()),"
            "('events', 'e.csv', 9, 'event_ts', 'timestamp before 2000-01-01', '{}', false, ?, now()),"
            "('events', 'e.csv', 3, 'event_ts', 'timestamp before 2000-01-01', '{}', false, '2026-03-09', "
            "now())",
            [DAY, DAY, DAY],
        )
    metadata = summary_metadata(path)
    assert metadata["dagster/row_count"].value == 3
    table = metadata["by_reason"].value
    assert "| customers | email | not a valid email address | row refused | 2 |" in table
    assert "| events | event_ts | timestamp before 2000-01-01 | row refused | 1 |" in table
    assert "@" not in table


def test_quarantine_summary_counts_values_set_to_null_apart_from_refused_rows(tmp_path) -> None:
    # Guards the day's refusal count (and its share) against counting rows that were loaded.
    path = tmp_path / "warehouse.duckdb"
    with connect(path) as con:
        con.execute(
            "insert into raw.quarantine values "
            "('customers', 'c.csv', 2, 'email', 'not a valid email address', '{}', false, ?, now()),"
            "('customers', 'c.csv', 3, 'lifetime_value', 'not a number', '{}', true, ?, now()),"
            "('events', 'e.csv', 4, 'value', 'not a finite number', '{}', true, ?, now())",
            [DAY, DAY, DAY],
        )
    metadata = summary_metadata(path)
    assert (metadata["dagster/row_count"].value, metadata["values_set_to_null"].value) == (1, 2)
    table = metadata["by_reason"].value
    assert "| customers | lifetime_value | not a number | value set to null, row kept | 1 |" in table


def test_the_days_events_of_customers_the_crm_has_not_exported_are_counted_not_dropped(tmp_path) -> None:
    # Guards against orphaned events: an event whose user_id names no customer loaded by its day (a
    # signup the CRM export has not caught up with, or a customer whose every row was refused)
    # belonged to nobody downstream, and nothing said how many there were.
    path = tmp_path / "warehouse.duckdb"
    with connect(path) as con:
        con.execute(
            "insert into raw.customers (customer_id, _partition_date) values "
            "('c1', '2026-03-09'), ('c3', '2026-03-11')"
        )
        con.execute(
            "insert into raw.events (event_id, user_id, anonymous_id, _partition_date) values "
            "('e1', 'c1', null, ?), ('e2', 'c2', null, ?), ('e3', 'c2', 'a1', ?), ('e4', null, 'a2', ?), "
            "('e5', 'c3', null, ?), ('e6', 'c9', null, '2026-03-09')",
            [DAY] * 5,
        )
    metadata = summary_metadata(path)
    # e2 and e3 (c2 was never exported), e5 (c3 only arrives the day after); e4 is anonymous
    assert metadata["events_naming_unknown_customers"].value == 3
    assert "| events | user_id | customers.customer_id | 3 | 2 |" in metadata["unknown_references"].value
