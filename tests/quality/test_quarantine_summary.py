"""The quality group's summary shows a person what was refused at ingest, without any raw values."""

from datetime import date

import dagster as dg

from orchestration.defs.quality.quarantine import quarantine_summary
from orchestration.warehouse import WarehouseResource, connect

DAY = date(2026, 3, 10)


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
    result = dg.materialize(
        [quarantine_summary],
        partition_key=DAY.isoformat(),
        resources={"warehouse": WarehouseResource(path=str(path))},
        selection=[quarantine_summary],
    )
    metadata = result.asset_materializations_for_node("quarantine_summary")[0].metadata
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
    result = dg.materialize(
        [quarantine_summary],
        partition_key=DAY.isoformat(),
        resources={"warehouse": WarehouseResource(path=str(path))},
        selection=[quarantine_summary],
    )
    metadata = result.asset_materializations_for_node("quarantine_summary")[0].metadata
    assert (metadata["dagster/row_count"].value, metadata["values_set_to_null"].value) == (1, 2)
    table = metadata["by_reason"].value
    assert "| customers | lifetime_value | not a number | value set to null, row kept | 1 |" in table
