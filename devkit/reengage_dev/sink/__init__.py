"""A local SendGrid-compatible sink: validates like the real v3 API, stores durably, injects faults.

Public API:
    start_sink(store_path, port=0) -> SinkHandle     (in-process, background thread)
    serving_local_sink(store_path=None)              (the same, named in REENGAGE_LOCAL_SINK_URL meanwhile)
    SinkStore(path)                                  (query what was accepted)
    export_events(store, rates, landing, seed=...)   (Event Webhook records for the demo)
CLI: `python -m reengage_dev.sink serve --store PATH --port N`.
"""

from typing import TYPE_CHECKING, Any

from reengage_dev.provider_sink.faults import Fault, FaultInjector
from reengage_dev.sink.local import serving_local_sink, store_path
from reengage_dev.sink.server import SinkHandle, make_server, start_sink
from reengage_dev.sink.store import SinkStore, StoredMessage
from reengage_dev.sink.validation import FieldError, is_valid_email, validate_mail_send

if TYPE_CHECKING:
    from reengage_dev.sink.events import EventExport, export_events, simulate_events, write_events

_EVENTS = {"EventExport", "export_events", "simulate_events", "write_events"}


def __getattr__(name: str) -> Any:
    """Import the events module (pandas, fsspec) only when asked: the server needs neither."""
    if name in _EVENTS:
        from reengage_dev.sink import events

        return getattr(events, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "EventExport",
    "Fault",
    "FaultInjector",
    "FieldError",
    "SinkHandle",
    "SinkStore",
    "StoredMessage",
    "export_events",
    "is_valid_email",
    "make_server",
    "serving_local_sink",
    "simulate_events",
    "start_sink",
    "store_path",
    "validate_mail_send",
    "write_events",
]
