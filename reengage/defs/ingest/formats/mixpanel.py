"""Mixpanel's raw event export: one JSON object per line, `event` and a `properties` object.

`properties.time` is seconds since the epoch (an export made with milliseconds declares
`event_ts: unix_milliseconds`). Identity follows Mixpanel's ID merge: `$user_id` once the user
is identified, `$device_id` (or, without one, `distinct_id`) as the anonymous id.
"""

from __future__ import annotations

from reengage.defs.ingest.formats.spec import EventFormat

FORMAT = EventFormat(
    name="mixpanel",
    title="Mixpanel raw event export",
    required_fields=("event", "properties"),
    columns={
        "event_id": ("properties.$insert_id",),
        "user_id": ("properties.$user_id",),
        "anonymous_id": ("properties.$device_id", "properties.distinct_id"),
        "event_name": ("event",),
        "event_ts": ("properties.time",),
        "page": ("properties.$current_url",),
        "product_id": ("properties.product_id",),
        "category": ("properties.category",),
        "value": ("properties.revenue", "properties.price", "properties.amount"),
        "device": ("properties.$device", "properties.mp_lib"),
        "channel": ("properties.utm_medium",),
    },
    timestamp="unix_seconds",
    event_names={"$mp_web_page_view": "page_view"},
)
