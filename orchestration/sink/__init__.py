"""A local SendGrid-compatible sink: validates like the real v3 API, stores durably, injects faults.

Public API:
    start_sink(store_path, port=0) -> SinkHandle     (in-process, background thread)
    SinkStore(path)                                  (query what was accepted)
    export_events(store, rates, landing, seed=...)   (Event Webhook records for the demo)
CLI: `python -m orchestration.sink serve --store PATH --port N`.
"""

from typing import TYPE_CHECKING, Any

from orchestration.sink.faults import Fault, FaultInjector
from orchestration.sink.server import SinkHandle, embedded_sink, make_server, start_sink
from orchestration.sink.store import SinkStore, StoredMessage
from orchestration.sink.validation import FieldError, is_valid_email, validate_mail_send

if TYPE_CHECKING:
    from orchestration.sink.events import EventExport, export_events, simulate_events, write_events

_EVENTS = {"EventExport", "export_events", "simulate_events", "write_events"}


def __getattr__(name: str) -> Any:
    """Import the events module (pandas, fsspec) only when asked: the server needs neither."""
    if name in _EVENTS:
        from orchestration.sink import events

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
    "embedded_sink",
    "make_server",
    "simulate_events",
    "start_sink",
    "validate_mail_send",
    "write_events",
]
