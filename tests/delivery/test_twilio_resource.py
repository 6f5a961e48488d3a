"""TwilioResource: Twilio's API by default, credentials from the environment only, a sink only when named."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
from sms_helpers import SERVICE, make_texts

from reengage.defs.delivery.twilio_resource import TwilioResource, twilio_from_environment
from reengage_dev.twilio_sink import TwilioSinkHandle

ACCOUNT = "AC" + "1" * 32
API_KEY = "SK" + "2" * 32
API_SECRET = "api-secret-never-shown"


def test_by_default_texts_go_to_twilios_api_and_without_credentials_nothing_is_sent(tmp_path: Path) -> None:
    # Guards production: no silent fallback to a sink, and one line naming the settings to set.
    assert twilio_from_environment().base_url() == "https://api.twilio.com"
    with pytest.raises(dg.DagsterInvariantViolationError) as refused:
        twilio_from_environment().deliver(tmp_path / "ledger.sqlite", make_texts(1))
    assert "\n" not in str(refused.value) and "TWILIO_ACCOUNT_SID" in str(refused.value)
    assert not (tmp_path / "ledger.sqlite").exists(), "stopped before the ledger was opened"


def test_credentials_without_a_messaging_service_are_refused_in_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Guards scheduling: Twilio schedules only through a Messaging Service, so none means no send.
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", ACCOUNT)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "token")
    with pytest.raises(dg.DagsterInvariantViolationError, match="REENGAGE_TWILIO_MESSAGING_SERVICE_SID"):
        twilio_from_environment().check_configured()


def test_an_api_key_and_secret_from_the_environment_sign_the_requests_and_never_show(
    monkeypatch: pytest.MonkeyPatch, twilio_sink: TwilioSinkHandle, tmp_path: Path
) -> None:
    # Guards the credentials: read from the environment at the moment of use, never a field of the
    # resource (so neither the UI nor a repr holds them), the API key as the user, the account in paths.
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", ACCOUNT)
    monkeypatch.setenv("TWILIO_API_KEY", API_KEY)
    monkeypatch.setenv("TWILIO_API_SECRET", API_SECRET)
    monkeypatch.setenv("REENGAGE_TWILIO_API_URL", twilio_sink.url)
    monkeypatch.setenv("REENGAGE_TWILIO_MESSAGING_SERVICE_SID", SERVICE)
    resource = twilio_from_environment()
    client = resource.client()
    assert (client.username, client.password, client.account_sid) == (API_KEY, API_SECRET, ACCOUNT)
    assert API_SECRET not in repr(resource) and API_SECRET not in str(resource.model_dump())
    report = resource.deliver(tmp_path / "ledger.sqlite", make_texts(2), run_date="2024-05-01")
    assert report.accepted == 2
    assert {t.account_sid for t in twilio_sink.store.texts()} == {ACCOUNT}


def test_a_named_local_sink_needs_no_account(twilio_sink: TwilioSinkHandle, tmp_path: Path) -> None:
    # Guards the demo and the tests: a local sink alone is enough, with placeholders for the rest.
    resource = TwilioResource(local_sink_url=twilio_sink.url, messages_per_second=1000)
    assert resource.base_url() == twilio_sink.url
    assert resource.deliver(tmp_path / "ledger.sqlite", make_texts(3), run_date="2024-05-01").accepted == 3
    assert len(twilio_sink.store.texts()) == 3
