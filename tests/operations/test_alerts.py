"""Alerts reach the log always and a Slack-compatible webhook when one is set; a dead webhook is logged."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import dagster as dg
import pytest
from ops_helpers import Webhook, serve

from reengage.defs.operations.notify import send_alert
from reengage.defs.operations.run_failure import run_failure_alert
from reengage.runs import run_day

TODAY = datetime.now(UTC).date()


def tick(sensor: dg.SensorDefinition, instance: dg.DagsterInstance, cursor: str | None) -> str | None:
    """One evaluation of a run-status sensor, as the daemon does it; returns the new cursor."""
    context = dg.build_sensor_context(instance=instance, cursor=cursor)
    return sensor.evaluate_tick(context).cursor


def test_a_failed_daily_run_is_posted_to_the_webhook_once(webhook: Webhook, monkeypatch) -> None:
    monkeypatch.setenv("REENGAGE_MISSING_FILE", "required")  # every export is due every day
    instance = dg.DagsterInstance.ephemeral()
    cursor = tick(run_failure_alert, instance, None)  # the first tick only marks where to start
    # The landing folder is empty: the day's exports are late, so ingest fails (a real failed run).
    result = run_day(TODAY, instance)
    assert not result.success

    cursor = tick(run_failure_alert, instance, cursor)
    (post,) = webhook.wait_for(1)
    assert post["path"] == "/services/T000/B000/secret-token" and post["type"] == "application/json"
    text = post["text"]
    assert text.startswith(
        f":rotating_light: Run failed: daily_reengagement for {TODAY} (run {result.run_id[:8]})"
    )
    assert f"- raw__customers: No customers export for {TODAY}" in text and "late or lost" in text
    assert post["blocks"][0]["text"]["text"] == text

    tick(run_failure_alert, instance, cursor)
    assert len(webhook.wait_for(2, timeout=0.5)) == 1, "each failed run is announced once"


def test_a_successful_run_raises_no_alert(webhook: Webhook) -> None:
    instance = dg.DagsterInstance.ephemeral()

    @dg.asset
    def fine() -> None:
        pass

    cursor = tick(run_failure_alert, instance, None)
    assert dg.materialize([fine], instance=instance).success
    tick(run_failure_alert, instance, cursor)
    assert webhook.wait_for(1, timeout=0.5) == []


def test_without_a_webhook_the_alert_goes_to_the_log_only(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("REENGAGE_ALERT_WEBHOOK_URL", raising=False)
    with caplog.at_level(logging.WARNING, logger="reengage.alerts"):
        delivery = send_alert("Delivery blocked for 2026-03-10")
    assert delivery.webhook == "not configured"
    assert [r.getMessage() for r in caplog.records] == ["Delivery blocked for 2026-03-10"]


def test_addresses_and_keys_never_leave_in_an_alert(webhook: Webhook) -> None:
    delivery = send_alert("step failed for ana.lopez+x@mail.example with key SG.abcdefghij.klmnopqrstu")
    assert delivery.webhook == "posted"
    (post,) = webhook.wait_for(1)
    assert post["text"] == "step failed for [email] with key [api key]"


@pytest.mark.parametrize("failure", ["refused", "http_500", "timeout"])
def test_a_webhook_that_is_down_or_slow_is_logged_not_raised(
    failure: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    server = None
    if failure == "refused":
        server, hook = serve()
        server.shutdown()
        server.server_close()  # nothing listens on the port any more
    else:
        server, hook = serve(status=500) if failure == "http_500" else serve(delay=2.0)
    monkeypatch.setenv("REENGAGE_ALERT_WEBHOOK_URL", hook.url)
    monkeypatch.setenv("REENGAGE_ALERT_TIMEOUT_SECONDS", "0.5")
    with caplog.at_level(logging.WARNING, logger="reengage.alerts"):
        delivery = send_alert("Run failed: daily_reengagement")
    if failure != "refused":
        server.shutdown()
        server.server_close()
    assert delivery.webhook.startswith("failed: ")
    expected = {"refused": "ConnectionRefusedError", "http_500": "HTTP 500", "timeout": "timed out"}[failure]
    assert expected in delivery.webhook
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0] == "Run failed: daily_reengagement", "the alert itself is still in the log"
    assert "the alert above is in the log only" in messages[1]
    assert all("secret-token" not in m for m in messages), "the webhook URL holds a token: never logged"
