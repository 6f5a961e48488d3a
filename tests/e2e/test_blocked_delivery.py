"""A failed critical data-quality check stops the day before anyone is emailed, and says why."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
import duckdb
import pyarrow.parquet as pq
import pytest

from reengage.runs import failures, load_history, run_day
from reengage_dev.demo.world import generate_world
from reengage_dev.sink import serving_local_sink
from reengage_dev.sink.store import SinkStore
from reengage_dev.twilio_sink import serving_local_twilio_sink

pytestmark = pytest.mark.e2e

RUN_DATE = datetime.now(UTC).date()  # read at import: runs pass allow_past_dates past midnight
DAYS = 21


def test_an_empty_events_export_blocks_delivery(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("REENGAGE_HOME", str(tmp_path))
    generate_world(tmp_path, customers=400, days=DAYS, end_date=RUN_DATE, seed=5)
    # Today's export arrives with its header and no rows: a broken upstream job, not a quiet day.
    today = tmp_path / "landing" / "events" / f"events_{RUN_DATE}.parquet"
    table = pq.read_table(today)
    pq.write_table(table.slice(0, 0), today)

    instance = dg.DagsterInstance.ephemeral()
    history = load_history(RUN_DATE - timedelta(days=DAYS - 1), RUN_DATE - timedelta(days=1), instance)
    assert history.success, failures(history)
    with (
        serving_local_sink(tmp_path / "sink.sqlite"),  # where delivery would send, were it not blocked
        serving_local_twilio_sink(tmp_path / "twilio_sink.sqlite"),
    ):
        result = run_day(RUN_DATE, instance, allow_past_dates=True)

    assert not result.success
    failed_checks = [
        e.event_specific_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION" and not e.event_specific_data.passed
    ]
    assert any(c.asset_key == dg.AssetKey(["raw", "events"]) for c in failed_checks)
    planned = {e.step_key for e in result.all_events if e.event_type_value == "STEP_START"}
    assert "campaign_sends" not in planned, "delivery must not start after a failed critical check"
    assert SinkStore(tmp_path / "sink.sqlite").request_count() == 0
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
    try:
        sends = con.execute(
            "select count(*) from information_schema.tables where table_name = 'campaign_sends'"
        ).fetchone()[0]
    finally:
        con.close()
    assert sends == 0
