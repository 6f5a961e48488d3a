"""The Twilio sink's part in an erasure: registered under the `reengage.erasure_stores` entry points
(devkit/pyproject.toml) beside the mail sink's, so the product's erasure clears the texts' numbers
and bodies without knowing the sink exists."""

from __future__ import annotations

from collections.abc import Sequence

from reengage_dev.twilio_sink.local import store_path
from reengage_dev.twilio_sink.store import TwilioSinkStore


def erase_numbers(emails: Sequence[str], customer_ids: Sequence[str], phones: Sequence[str]) -> int:
    """Delete every text to or from the person's numbers from the home's Twilio sink store; 0 when
    no sink ever stored there. Texts carry no address or customer id, so only `phones` is read."""
    path = store_path()
    if not path.exists():
        return 0  # opening the store would create it
    return TwilioSinkStore(path).erase_numbers(phones)
