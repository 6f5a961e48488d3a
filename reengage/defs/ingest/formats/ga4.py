"""Google Analytics 4's BigQuery export (`events_YYYYMMDD`), as JSON Lines or Parquet.

One row per event, with nested `event_params` and `user_properties` (lists of {key, value}
pairs, read as one object each: `event_params.page_location`), `items`, `device`,
`traffic_source`, and the time in microseconds since the epoch. GA4 has no event id: it is
the hash of the fields that tell two events apart, so a row exported twice is a duplicate.
"""

from __future__ import annotations

from reengage.defs.ingest.formats.spec import EventFormat, HashOf

FORMAT = EventFormat(
    name="ga4",
    title="GA4 BigQuery export",
    required_fields=("event_timestamp", "event_name", "user_pseudo_id"),
    columns={
        "event_id": HashOf(
            (
                "user_pseudo_id",
                "event_timestamp",
                "event_name",
                "event_bundle_sequence_id",
                "batch_event_index",
            )
        ),
        "user_id": ("user_id",),
        "anonymous_id": ("user_pseudo_id",),
        "event_name": ("event_name",),
        "event_ts": ("event_timestamp",),
        "page": ("event_params.page_location",),
        "product_id": ("items.0.item_id",),
        "category": ("items.0.item_category",),
        "value": ("ecommerce.purchase_revenue", "event_params.value"),
        "device": ("device.category",),
        # The event's own medium first; `traffic_source` is the user's first-ever one.
        "channel": ("event_params.medium", "collected_traffic_source.manual_medium", "traffic_source.medium"),
    },
    timestamp="unix_microseconds",
    event_names={
        "view_item": "product_view",
        "begin_checkout": "checkout_started",
        "view_search_results": "search",
        "generate_lead": "form_submit",
    },
    key_value_fields=("event_params", "user_properties"),
)
