"""SendGridResource: the real API by default, a local sink only when named, no secret in reprs, in Dagster."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest
from delivery_helpers import API_KEY, RUN_DATE, make_messages, write_intervention_list

from reengage import settings
from reengage.defs.delivery.assets import campaign_sends, past_dates_allowed
from reengage.defs.delivery.ledger import SendLedger
from reengage.defs.delivery.resource import (
    LOCAL_PLACEHOLDER_KEY,
    SendGridResource,
    sendgrid_from_environment,
)
from reengage.warehouse import WarehouseResource
from reengage_dev.sink import SinkHandle, SinkStore


def test_a_local_sink_named_by_the_setting_needs_no_account(
    local_sink: SinkHandle, isolated_home: Path
) -> None:
    # Guards the demo and the tests: REENGAGE_LOCAL_SINK_URL alone is enough to deliver to a local sink.
    resource = SendGridResource()
    messages = make_messages(12)
    report = resource.deliver(isolated_home / "send_ledger.sqlite", messages)
    assert report.accepted == 12 and report.complete
    assert resource.base_url() == local_sink.url
    assert resource.client().api_key == LOCAL_PLACEHOLDER_KEY
    store = SinkStore(isolated_home / "sink.sqlite")
    assert store.count_by_send_id() == {m.send_id: 1 for m in messages}


def test_a_local_sink_can_be_named_in_the_resource_config(sink: SinkHandle, tmp_path: Path) -> None:
    messages = make_messages(3)
    resource = SendGridResource(local_sink_url=sink.url)
    assert resource.deliver(tmp_path / "ledger.sqlite", messages, run_date=RUN_DATE).accepted == 3
    assert sink.store.count_by_send_id() == {m.send_id: 1 for m in messages}, "in the named sink"


def test_by_default_mail_goes_to_the_real_sendgrid_api() -> None:
    # Guards production: the default was an in-process sink that accepted every message unsent.
    assert SendGridResource().base_url() == "https://api.sendgrid.com"
    assert sendgrid_from_environment().base_url() == "https://api.sendgrid.com"


def test_without_a_key_or_a_named_sink_delivery_stops_before_any_request_with_one_line(
    isolated_home: Path,
) -> None:
    # Guards production against sending nowhere: with neither SENDGRID_API_KEY nor a local sink named,
    # the old default started a sink in-process and reported every message as accepted.
    ledger = isolated_home / "send_ledger.sqlite"
    with pytest.raises(dg.DagsterInvariantViolationError) as error:
        sendgrid_from_environment().deliver(ledger, make_messages(3))
    message = str(error.value)
    assert "\n" not in message
    assert "SENDGRID_API_KEY" in message and "REENGAGE_LOCAL_SINK_URL" in message
    assert not ledger.exists(), "the ledger is not even opened"


def test_explicit_host_and_key(sink: SinkHandle, tmp_path: Path) -> None:
    resource = SendGridResource(api_key=API_KEY, host=sink.url + "/", batch_size=5, asm_group_id=7)
    report = resource.deliver(tmp_path / "ledger.sqlite", make_messages(11), run_date=RUN_DATE)
    assert report.accepted == 11 and report.requests == 3
    assert resource.client().api_key == API_KEY


def test_key_comes_from_the_environment(sink: SinkHandle, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENDGRID_API_KEY", "env-key")
    assert SendGridResource(host=sink.url).client().api_key == "env-key"
    monkeypatch.delenv("SENDGRID_API_KEY")
    with pytest.raises(dg.DagsterInvariantViolationError, match="SENDGRID_API_KEY"):
        SendGridResource(host=sink.url).client()


def test_repr_hides_the_key() -> None:
    resource = SendGridResource(api_key=API_KEY, host="https://api.sendgrid.com")
    assert API_KEY not in repr(resource) and API_KEY not in str(resource)


def test_works_as_a_dagster_resource(
    sink: SinkHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SENDGRID_API_KEY", API_KEY)
    ledger_path = tmp_path / "ledger.sqlite"

    @dg.asset
    def sends(sendgrid: SendGridResource) -> dg.MaterializeResult:
        report = sendgrid.deliver(ledger_path, make_messages(3))
        return dg.MaterializeResult(metadata=report.as_metadata())

    result = dg.materialize(
        [sends],
        resources={"sendgrid": SendGridResource(api_key=dg.EnvVar("SENDGRID_API_KEY"), host=sink.url)},
    )
    assert result.success
    (materialization,) = result.asset_materializations_for_node("sends")
    metadata = {k: v.value for k, v in materialization.metadata.items()}
    assert metadata["accepted"] == 3
    assert API_KEY not in repr(metadata) and "@" not in repr(metadata)


def test_the_delivery_asset_refuses_to_start_without_a_provider_and_plans_nothing(
    isolated_home: Path,
) -> None:
    # Guards production's daily job: with no key and no local sink named, the delivery step used to
    # start an in-process sink and report every message accepted; now it fails in one line naming
    # the settings, before the ledger plans even the held-out rows.
    today = datetime.now(UTC).date()
    write_intervention_list(settings.warehouse_path(), today)
    result = dg.materialize(
        [campaign_sends],
        partition_key=today.isoformat(),
        instance=dg.DagsterInstance.ephemeral(),
        resources={"warehouse": WarehouseResource(), "sendgrid": sendgrid_from_environment()},
        run_config=past_dates_allowed(),  # the suite may pass midnight
        raise_on_error=False,
    )
    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    error = failure.step_failure_data.error.to_string()
    assert "SendGridResource: no SendGrid API key" in error and "REENGAGE_LOCAL_SINK_URL" in error
    assert not any(SendLedger(settings.ledger_path()).counts(today).values()), "nothing planned"
