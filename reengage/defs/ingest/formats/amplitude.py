"""Amplitude's export API files: one JSON object per line per event.

`event_time` is UTC text without an offset (`2021-03-04 05:06:07.123456`); `$insert_id` is the
id the sender chose for deduplication, `uuid` Amplitude's own when there is none.
"""

from __future__ import annotations

from reengage.defs.ingest.formats.spec import EventFormat

FORMAT = EventFormat(
    name="amplitude",
    title="Amplitude export",
    required_fields=("event_type", "event_time"),
    columns={
        "event_id": ("$insert_id", "insert_id", "uuid"),
        "user_id": ("user_id",),
        "anonymous_id": ("device_id",),
        "event_name": ("event_type",),
        "event_ts": ("event_time",),
        "page": ("event_properties.[Amplitude] Page Path", "event_properties.page_path"),
        "product_id": ("event_properties.$productId", "event_properties.product_id"),
        "category": ("event_properties.category",),
        "value": ("event_properties.$revenue", "event_properties.revenue", "event_properties.price"),
        "device": ("device_type", "platform"),
        "channel": ("user_properties.utm_medium",),
    },
    timestamp="utc_text",
    event_names={"[Amplitude] Page Viewed": "page_view"},
)
