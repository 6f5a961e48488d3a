"""Fixtures for the Twilio sink tests: a live sink on a free port, its clock, the official client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from twilio.rest import Client

from reengage.channels.twilio_http import BaseUrlHttpClient
from reengage_dev.twilio_sink import TwilioSinkHandle, start_twilio_sink
from tests.sink.sink_helpers import MovableClock

ACCOUNT = "AC" + "0" * 31 + "1"
SERVICE = "MG" + "0" * 31 + "2"


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(1_800_000_000.0)


@pytest.fixture
def sink(tmp_path: Path, clock: MovableClock) -> Iterator[TwilioSinkHandle]:
    handle = start_twilio_sink(tmp_path / "twilio.sqlite", clock=clock)
    yield handle
    handle.stop()


def client_for(sink: TwilioSinkHandle, timeout: float = 5) -> Client:
    return Client(ACCOUNT, "not-a-real-secret", http_client=BaseUrlHttpClient(sink.url, timeout=timeout))


@pytest.fixture
def twilio(sink: TwilioSinkHandle) -> Client:
    return client_for(sink)
