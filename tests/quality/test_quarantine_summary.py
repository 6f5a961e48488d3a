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
            "('customers', 'c.csv', 2, 'email', 'not a valid email address', '{\"e\": \"x@\"}', ?, now()),"
            "('customers', 'c.csv', 5, 'email', 'not a valid email address', '{\"e\": \"y@\"}', ?, now()),"
            "('events', 'e.csv', 9, 'event_ts', 'timestamp before 2000-01-01', '{}', ?, now()),"
            "('events', 'e.csv', 3, 'event_ts', 'timestamp before 2000-01-01', '{}', '2026-03-09', now())",
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
    assert "| customers | email | not a valid email address | 2 |" in table
    assert "| events | event_ts | timestamp before 2000-01-01 | 1 |" in table
    assert "@" not in table
