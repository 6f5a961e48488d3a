"""Segment's warehouse tables (`tracks`, `pages`, `identifies`) exported as files.

A day's file holds the rows of one table or of several (a union by column name); a row with
an event name is a track, a row without one is a page when it has a URL, path or title, and
an identify otherwise (it still links `anonymous_id` to `user_id`). Columns are the
warehouse's own: properties and context flattened, `context_` prefixed.
"""

from __future__ import annotations

import pandas as pd

from reengage.defs.ingest.formats.spec import EventFormat

PAGE_FIELDS = ("url", "path", "title")
# The e-commerce spec's names (as sent, and as the warehouse's `event` column slugs them).
SPEC_EVENT_NAMES = {
    "Products Searched": "search",
    "Product Viewed": "product_view",
    "Product Added": "add_to_cart",
    "Checkout Started": "checkout_started",
    "Order Completed": "purchase",
    "Signed In": "login",
    "products_searched": "search",
    "product_viewed": "product_view",
    "product_added": "add_to_cart",
    "checkout_started": "checkout_started",
    "order_completed": "purchase",
    "signed_in": "login",
    "page": "page_view",
}


def page_or_identify(rows: pd.DataFrame) -> pd.Series:
    """A row without an event name: a page call if it has a URL, path or title, else an identify."""
    present = [rows[name].notna() & (rows[name] != "") for name in PAGE_FIELDS if name in rows.columns]
    is_page = pd.concat(present, axis=1).any(axis=1) if present else pd.Series(False, index=rows.index)
    return pd.Series(["page" if page else "identify" for page in is_page], index=rows.index, dtype=object)


FORMAT = EventFormat(
    name="segment",
    title="Segment warehouse tables",
    required_fields=("id", "anonymous_id", "user_id", "timestamp"),
    columns={
        "event_id": ("id",),
        "user_id": ("user_id",),
        "anonymous_id": ("anonymous_id",),
        "event_name": ("event_text", "event"),
        "event_ts": ("timestamp",),
        "page": ("path", "context_page_path"),
        "product_id": ("product_id",),
        "category": ("category",),
        "value": ("revenue", "value", "total", "price"),
        "device": ("context_device_type",),
        "channel": ("context_campaign_medium",),
    },
    # Warehouse timestamps are UTC; an export writes them with or without an offset.
    timestamp="utc_text",
    event_names=SPEC_EVENT_NAMES,
    unnamed_event=page_or_identify,
    unnamed_event_fields=PAGE_FIELDS,
)
