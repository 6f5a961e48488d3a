"""The analytics vendors' export formats the events source reads besides the project's own.

One module per format, each a declarative table (spec.EventFormat); convert.py applies it to
a chunk of rows; declaration.py reads which format a landing folder holds (docs/formats.md).
"""

from __future__ import annotations

from reengage.defs.ingest.formats import amplitude, ga4, mixpanel, rudderstack, segment, snowplow
from reengage.defs.ingest.formats.spec import EventFormat

# The project's own contract (contracts.EVENTS), which needs no declaration.
OWN_FORMAT = "reengage"
EVENT_FORMATS: dict[str, EventFormat] = {
    f.name: f
    for f in (
        segment.FORMAT,
        rudderstack.FORMAT,
        ga4.FORMAT,
        mixpanel.FORMAT,
        amplitude.FORMAT,
        snowplow.FORMAT,
    )
}
