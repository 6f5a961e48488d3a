"""A notice says when a day's delivery was blocked by a quality gate or refused its date, with counts only."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
from ops_helpers import CUSTOMERS, EVENTS_HEADER, Webhook, land

from reengage import settings
from reengage.defs.delivery.assets import campaign_sends, past_dates_allowed
from reengage.defs.delivery.checks import every_message_settled
from reengage.defs.delivery.ledger import send_id
from reengage.defs.delivery.resource import SendGridResource
from reengage.defs.operations.delivery_notice import blocked_delivery_notice, refused_delivery_notice
from reengage.runs import run_day
from reengage.schema.declared import INTERVENTION_LIST
from reengage.schema.migrations import migrate
from reengage.warehouse import WarehouseResource
from reengage_dev.sink import start_sink

TODAY = datetime.now(UTC).date()
PAST = date(2024, 5, 1)


def tick(sensor: dg.SensorDefinition, instance: dg.DagsterInstance, cursor: str | None) -> str | None:
    return sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=cursor)).cursor


def test_a_failed_gate_sends_a_blocked_delivery_notice_naming_the_gates(webhook: Webhook) -> None:
    landing = Path(settings.landing_dir())
    land(landing, "customers", TODAY, CUSTOMERS)
    land(landing, "events", TODAY, EVENTS_HEADER + "\n")  # the upstream job broke: a header and no rows
    instance = dg.DagsterInstance.ephemeral()
    cursor = tick(blocked_delivery_notice, instance, None)
    result = run_day(TODAY, instance)
    assert not result.success
    tick(blocked_delivery_notice, instance, cursor)

    (post,) = webhook.wait_for(1)
    lines = post["text"].splitlines()
    assert lines[0] == (
        f":no_entry: Delivery blocked for {TODAY} (run {result.run_id[:8]} of daily_reengagement): "
        "no message was sent."
    )
    gates = [line for line in lines[2:] if line.startswith("- raw/events events_volume_and_freshness")]
    assert gates and "rows_loaded=0" in gates[0], "the gate's counts are in the notice"
    assert "@" not in post["text"]


def intervention_rows(run_date: date) -> list[tuple]:
    """Two treatment rows and one holdout row, as the policy writes them."""
    send_at = datetime.combine(run_date, datetime.min.time(), tzinfo=UTC) + timedelta(hours=9)
    return [
        (send_id(f"c{i}", "winback", run_date), run_date, f"c{i}", "email", f"user{i}@mail.example",
         f"Name{i}", "UTC", "winback", "A", arm, "d-winback", None, None,
         json.dumps({"first_name": f"Name{i}"}), send_at, "09:00", 1, 0.5)
        for i, arm in enumerate(["treatment", "treatment", "holdout"])
    ]  # fmt: skip


def deliver(
    run_date: date, instance: dg.DagsterInstance, sink_url: str, *checks: dg.AssetChecksDefinition
) -> dg.ExecuteInProcessResult:
    with duckdb.connect(str(settings.warehouse_path())) as con:
        migrate(con)
        con.executemany(
            INTERVENTION_LIST.insert_values(),
            intervention_rows(run_date),
        )
    return dg.materialize(
        [campaign_sends, *checks],
        partition_key=run_date.isoformat(),
        instance=instance,
        resources={
            "warehouse": WarehouseResource(),
            "sendgrid": SendGridResource(api_key="SG.test-key-never-logged", host=sink_url),
        },
        # TODAY is read at import and the suite may pass midnight: only PAST is meant to be refused.
        run_config=None if run_date == PAST else past_dates_allowed(),
        raise_on_error=False,
    )


def test_a_refused_past_date_sends_a_notice_and_a_normal_day_sends_none(
    tmp_path: Path, webhook: Webhook
) -> None:
    instance = dg.DagsterInstance.ephemeral()
    cursor = tick(refused_delivery_notice, instance, None)
    with start_sink(tmp_path / "sink.sqlite") as sink:
        today = deliver(TODAY, instance, sink.url)
        cursor = tick(refused_delivery_notice, instance, cursor)
        assert today.success and webhook.wait_for(1, timeout=0.5) == [], "a day that delivered: no notice"
        past = deliver(PAST, instance, sink.url)
        tick(refused_delivery_notice, instance, cursor)
    assert past.success, "refusing a past date does not fail the run"
    (post,) = webhook.wait_for(1)
    assert post["text"] == (
        f":warning: Delivery refused for {PAST} (run {past.run_id[:8]} of __ephemeral_asset_job__): "
        f"{PAST} is in the past: nothing sent (set allow_past_dates to force).\n"
        f"Send ledger for {PAST}: nothing planned."
    )


def test_a_run_that_leaves_messages_unsettled_sends_a_notice_saying_how_many(
    tmp_path: Path, webhook: Webhook
) -> None:
    # Guards "the alert says how many": the request's connection drops and the cancel that
    # would settle it is refused, so both messages stay in doubt; the blocking check fails
    # the run and the notice counts them (no address, no id).
    instance = dg.DagsterInstance.ephemeral()
    cursor = tick(blocked_delivery_notice, instance, None)
    with start_sink(tmp_path / "sink.sqlite") as sink:
        sink.inject(
            {"mode": "drop", "when": "before"},
            {"status": 403, "message": "access forbidden", "path": "/v3/user/scheduled_sends"},
        )
        result = deliver(TODAY, instance, sink.url, every_message_settled)
        tick(blocked_delivery_notice, instance, cursor)
    assert not result.success
    (post,) = webhook.wait_for(1)
    assert post["text"] == (
        f":warning: Delivery for {TODAY} not settled (run {result.run_id[:8]} of __ephemeral_asset_job__): "
        "2 message(s) left unsettled (2 in doubt).\nA later run settles them, or "
        f"`python -m reengage.cli resolve --date {TODAY}` (docs/operations.md)."
    )
