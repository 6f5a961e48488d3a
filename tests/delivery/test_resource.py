"""SendGridResource: embedded sink by default, explicit hosts, no secret in reprs, usable in Dagster."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
from delivery_helpers import API_KEY, RUN_DATE, make_messages

from orchestration.defs.delivery.resource import SendGridResource
from orchestration.sink import SinkHandle, SinkStore


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("REENGAGE_HOME", str(tmp_path))
    monkeypatch.delenv("SENDGRID_API_KEY", raising=False)
    return tmp_path


def test_embedded_default_needs_no_account(home: Path) -> None:
    resource = SendGridResource()
    messages = make_messages(12)
    report = resource.deliver(home / "send_ledger.sqlite", messages)
    assert report.accepted == 12 and report.complete
    store = SinkStore(home / "sink.sqlite")
    assert store.count_by_send_id() == {m.send_id: 1 for m in messages}
    assert resource.base_url() == resource.base_url(), "one embedded sink per store, reused"


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
