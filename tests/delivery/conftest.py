"""Fixtures for delivery tests: live sinks (SendGrid, Twilio), a ledger, the official client, fast retries."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from delivery_helpers import API_KEY
from sendgrid import SendGridAPIClient

from reengage.defs.delivery.ledger import SendLedger
from reengage.defs.delivery.sender import make_client
from reengage_dev.sink import SinkHandle, start_sink
from reengage_dev.twilio_sink import TwilioSinkHandle, start_twilio_sink


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[SinkHandle]:
    handle = start_sink(tmp_path / "sink.sqlite")
    yield handle
    handle.stop()


@pytest.fixture
def twilio_sink(tmp_path: Path) -> Iterator[TwilioSinkHandle]:
    """A local Twilio sink on the real clock (Twilio checks SendAt against it)."""
    handle = start_twilio_sink(tmp_path / "twilio.sqlite")
    yield handle
    handle.stop()


@pytest.fixture
def ledger(tmp_path: Path) -> SendLedger:
    return SendLedger(tmp_path / "send_ledger.sqlite")


@pytest.fixture
def client(sink: SinkHandle) -> SendGridAPIClient:
    return make_client(API_KEY, sink.url)
