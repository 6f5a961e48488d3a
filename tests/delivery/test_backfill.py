"""Backfill safety on the real `campaign_sends` asset: a past date sends nothing unless forced, and says so.

A temporary REENGAGE_HOME holds the warehouse (with a hand-built
`interventions.intervention_list`) and the send ledger; the sink is a live local one.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from delivery_helpers import API_KEY, write_intervention_list

from reengage import settings
from reengage.defs.delivery.assets import campaign_sends
from reengage.defs.delivery.ledger import SendLedger, send_id
from reengage.defs.delivery.resource import SendGridResource
from reengage.warehouse import WarehouseResource
from reengage_dev.sink import SinkHandle

PAST = date(2024, 5, 1)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("REENGAGE_HOME", str(tmp_path))
    write_intervention_list(settings.warehouse_path(), PAST, datetime.now(UTC).date())
    return tmp_path


def materialize(sink: SinkHandle, run_date: date, instance: dg.DagsterInstance, **config: bool):
    result = dg.materialize(
        [campaign_sends],
        partition_key=run_date.isoformat(),
        instance=instance,
        resources={
            "warehouse": WarehouseResource(),
            "sendgrid": SendGridResource(api_key=API_KEY, host=sink.url),
        },
        run_config={"ops": {"campaign_sends": {"config": config}}} if config else None,
    )
    assert result.success
    (materialization,) = result.asset_materializations_for_node("campaign_sends")
    metadata = {k: v.value for k, v in materialization.metadata.items()}
    logs = [e.user_message for e in instance.all_logs(result.run_id)]
    return metadata, logs


def test_a_past_date_sends_nothing_unless_forced_and_says_so(home: Path, sink: SinkHandle) -> None:
    instance = dg.DagsterInstance.ephemeral()
    metadata, logs = materialize(sink, PAST, instance)
    assert metadata["skipped_past_date"] is True
    assert "in the past: nothing sent (set allow_past_dates to force)" in metadata["note"]
    assert any("in the past: nothing sent" in message for message in logs)
    assert sink.store.counts_by_status() == {}, "not one request reached the provider"
    assert sum(SendLedger(settings.ledger_path()).counts(PAST).values()) == 0, "nothing even planned"

    forced, _ = materialize(sink, PAST, instance, allow_past_dates=True)
    assert forced["skipped_past_date"] is False and "note" not in forced
    assert (forced["state/accepted"], forced["state/held"]) == (3, 1)
    expected = {send_id(f"c{i}", "winback", PAST): 1 for i in range(3)}
    assert sink.store.count_by_send_id() == expected

    again, _ = materialize(sink, PAST, instance, allow_past_dates=True)
    assert again["state/accepted"] == 3 and sink.store.count_by_send_id() == expected, "a rerun sends nothing"
    with duckdb.connect(str(settings.warehouse_path()), read_only=True) as con:
        mirrored = con.execute(
            "select state, count(*) from delivery.campaign_sends where run_date = ? group by state", [PAST]
        ).fetchall()
    assert sorted(mirrored) == [("accepted", 3), ("held", 1)]


def test_today_is_sent_without_forcing(home: Path, sink: SinkHandle) -> None:
    today = datetime.now(UTC).date()
    metadata, _ = materialize(sink, today, dg.DagsterInstance.ephemeral())
    assert metadata["skipped_past_date"] is False
    assert (metadata["state/accepted"], metadata["state/held"]) == (3, 1)
    assert len(sink.store.count_by_send_id()) == 3
