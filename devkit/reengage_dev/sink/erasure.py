"""The sink's part in an erasure: registered under the `reengage.erasure_stores` entry points
(devkit/pyproject.toml), so the product's erasure clears it without knowing it exists."""

from __future__ import annotations

from collections.abc import Sequence

from reengage_dev.sink.local import store_path
from reengage_dev.sink.store import SinkStore

# The entry point's name in devkit/pyproject.toml: the table an erasure's audit row counts these rows under.
SINK_TABLE = "sink.messages"


def erase_recipients(emails: Sequence[str], customer_ids: Sequence[str], phones: Sequence[str]) -> int:
    """Delete the person's messages from the home's sink store; 0 when no sink ever stored there.

    Mail holds no phone numbers: `phones` is the erasure contract's, for the Twilio sink's part."""
    path = store_path()
    if not path.exists():
        return 0  # opening the store would create it
    return SinkStore(path).erase_recipients(emails, customer_ids)
