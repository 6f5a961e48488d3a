"""A local Twilio-compatible sink: the Messages API subset the SMS sender needs, checked like Twilio.

Public API:
    start_twilio_sink(store_path, port=0, clock=..., outcomes=...) -> TwilioSinkHandle (background thread)
    serving_local_twilio_sink(store_path=None)       (the same, named in REENGAGE_TWILIO_LOCAL_SINK_URL)
    TwilioSinkStore(path)                            (query what was accepted, canceled, sent)
    Outcomes, Rates                                  (delivery and STOP rates, seed)
    export_status_callbacks(store, landing, as_of=..., outcomes=...)   (daily sms_events files)
CLI: `python -m reengage_dev.twilio_sink serve --store PATH --port N`.
"""

from reengage_dev.twilio_sink.callbacks import export_status_callbacks, status_callbacks
from reengage_dev.twilio_sink.errors import TwilioError
from reengage_dev.twilio_sink.local import serving_local_twilio_sink
from reengage_dev.twilio_sink.outcomes import Outcomes, Rates
from reengage_dev.twilio_sink.server import TwilioSinkHandle, make_server, message_resource, start_twilio_sink
from reengage_dev.twilio_sink.store import StoredText, TwilioSinkStore

__all__ = [
    "Outcomes",
    "Rates",
    "StoredText",
    "TwilioError",
    "TwilioSinkHandle",
    "TwilioSinkStore",
    "export_status_callbacks",
    "make_server",
    "message_resource",
    "serving_local_twilio_sink",
    "start_twilio_sink",
    "status_callbacks",
]
