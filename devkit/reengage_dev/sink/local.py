"""The local sink as delivery's provider: started for a store file and named by REENGAGE_LOCAL_SINK_URL.

Delivery sends to a sink only when that setting names one (reengage/settings.py), so the
demo and the tests start a sink here and set it for as long as the sink runs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from reengage import settings
from reengage_dev.sink.server import SinkHandle, start_sink

STORE_FILE = "sink.sqlite"


def store_path(home: Path | None = None) -> Path:
    """The sink's store in a home (default: $REENGAGE_HOME), beside the warehouse and the ledger."""
    return (home or settings.home()) / STORE_FILE


@contextmanager
def serving_local_sink(store: Path | None = None) -> Iterator[SinkHandle]:
    """A sink in this process storing into `store` (default: the home's), named in
    REENGAGE_LOCAL_SINK_URL inside the block so the daily job in this process delivers to it."""
    previous = os.environ.get(settings.LOCAL_SINK_URL)
    with start_sink(store or store_path()) as sink:
        os.environ[settings.LOCAL_SINK_URL] = sink.url
        try:
            yield sink
        finally:
            if previous is None:
                os.environ.pop(settings.LOCAL_SINK_URL, None)
            else:
                os.environ[settings.LOCAL_SINK_URL] = previous
