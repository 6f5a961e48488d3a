"""Fixtures for delivery tests: a live sink, a ledger, the official client, fast retries."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from delivery_helpers import API_KEY
from sendgrid import SendGridAPIClient

from reengage.defs.delivery.ledger import SendLedger
from reengage.defs.delivery.sender import make_client
from reengage_dev.sink import SinkHandle, start_sink


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[SinkHandle]:
    handle = start_sink(tmp_path / "sink.sqlite")
    yield handle
    handle.stop()


@pytest.fixture
def ledger(tmp_path: Path) -> SendLedger:
    return SendLedger(tmp_path / "send_ledger.sqlite")


@pytest.fixture
def client(sink: SinkHandle) -> SendGridAPIClient:
    return make_client(API_KEY, sink.url)
