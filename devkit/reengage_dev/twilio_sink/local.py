"""The local Twilio sink as SMS delivery's provider: started for a store file and named by
REENGAGE_TWILIO_LOCAL_SINK_URL, as the SendGrid sink is by REENGAGE_LOCAL_SINK_URL (sink/local.py).

SMS delivery sends to a sink only when that setting names one (reengage/settings.py), so the demo
starts one here and sets it for as long as the sink runs. Each text also needs a status callback
URL: Twilio echoes its query (the `send_id` delivery adds) in every status callback, which is how
the sms_events export joins back to the ledger. Nobody posts to it here: the demo world writes the
callbacks as a receiver would export them, so an unset URL is set to a placeholder meanwhile.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from reengage import settings
from reengage_dev.twilio_sink.server import TwilioSinkHandle, start_twilio_sink

STORE_FILE = "twilio_sink.sqlite"
# Where the demo's texts say their status callbacks go: a name that never resolves (RFC 2606).
PLACEHOLDER_STATUS_CALLBACK_URL = "https://status-callbacks.invalid/twilio"
_URL_ENV = settings.BY_KEY["delivery.twilio_local_sink_url"].env
_CALLBACK_ENV = settings.BY_KEY["delivery.twilio_status_callback_url"].env


def store_path(home: Path | None = None) -> Path:
    """The Twilio sink's store in a home (default: $REENGAGE_HOME), beside the SendGrid sink's."""
    return (home or settings.home()) / STORE_FILE


@contextmanager
def serving_local_twilio_sink(store: Path | None = None) -> Iterator[TwilioSinkHandle]:
    """A Twilio sink in this process storing into `store` (default: the home's), named in
    REENGAGE_TWILIO_LOCAL_SINK_URL inside the block (with a status callback URL unless one is set),
    so the daily job in this process texts through it; both restored after."""
    previous = {name: os.environ.get(name) for name in (_URL_ENV, _CALLBACK_ENV)}
    with start_twilio_sink(store or store_path()) as sink:
        os.environ[_URL_ENV] = sink.url
        if not settings.twilio_status_callback_url():
            os.environ[_CALLBACK_ENV] = PLACEHOLDER_STATUS_CALLBACK_URL
        try:
            yield sink
        finally:
            for name, value in previous.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
