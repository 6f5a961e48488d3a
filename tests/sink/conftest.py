"""Fixtures for the sink tests: a live sink on a free port and the official client aimed at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sendgrid import SendGridAPIClient

from reengage_dev.sink import SinkHandle, start_sink


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[SinkHandle]:
    handle = start_sink(tmp_path / "sink.sqlite")
    yield handle
    handle.stop()


@pytest.fixture
def sg(sink: SinkHandle) -> SendGridAPIClient:
    return SendGridAPIClient(api_key="test-key", host=sink.url)
