"""A real local HTTP server standing in for a Slack incoming webhook, for every operations test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from ops_helpers import Webhook, serve


@pytest.fixture
def webhook(monkeypatch: pytest.MonkeyPatch) -> Iterator[Webhook]:
    server, hook = serve()
    monkeypatch.setenv("REENGAGE_ALERT_WEBHOOK_URL", hook.url)
    yield hook
    server.shutdown()
    server.server_close()
