"""What an analytics vendor's export is, as data: where each canonical `events` column comes from.

A format is a declarative table (canonical column <- vendor field paths, first non-empty wins),
how its timestamp is written and which of its event names mean one of ours. The machinery that
applies it is convert.py; the table of every format, and how a landing folder overrides one,
is in docs/formats.md.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

import pandas as pd

from reengage.defs.ingest.names import name_key

# How a format writes its event time. `iso8601` is the project's own rule (judged by parse.py);
# the others are converted to ISO-8601 UTC text first, to the microsecond.
TimestampKind = Literal["iso8601", "utc_text", "unix_seconds", "unix_milliseconds", "unix_microseconds"]
TIMESTAMP_KINDS: tuple[TimestampKind, ...] = (
    "iso8601",
    "utc_text",
    "unix_seconds",
    "unix_milliseconds",
    "unix_microseconds",
)


@dataclass(frozen=True)
class HashOf:
    """A column made from other fields: the hex SHA-256 of their values (for formats without an id)."""

    paths: tuple[str, ...]


# A canonical column's source: field paths tried in order (`a.b.0.c` walks objects and lists), or a hash.
Source = tuple[str, ...] | HashOf


# The e-commerce names analytics tools are sent in free form (Mixpanel's and Amplitude's events are
# whatever the site's code called them), read whatever their case and separators: `Product Viewed`,
# `view item`, `Added to cart`, `order completed`. A format's own mapping, and a landing folder's
# `event_names`, come first; a name matching none of these loads as exported.
COMMON_EVENT_NAMES: dict[str, tuple[str, ...]] = {
    "page_view": ("page_view", "page_viewed", "pageview"),
    "product_view": ("product_view", "product_viewed", "view_item", "view_product", "viewed_product"),
    "add_to_cart": ("add_to_cart", "product_added", "added_to_cart", "add_to_basket", "added_to_basket"),
    "checkout_started": ("checkout_started", "begin_checkout", "start_checkout", "started_checkout"),
    "purchase": ("purchase", "purchased", "order_completed", "completed_order", "order_placed"),
    "search": ("search", "searched", "products_searched", "product_searched"),
    "login": ("login", "log_in", "logged_in", "sign_in", "signed_in"),
    "order_refunded": ("order_refunded", "refunded_order"),
    "order_cancelled": ("order_cancelled", "order_canceled", "cancelled_order", "canceled_order"),
}
_COMMON_BY_KEY = {
    name_key(spelt): ours for ours, spellings in COMMON_EVENT_NAMES.items() for spelt in spellings
}


def event_name_here(vendor_name: str, fmt: EventFormat) -> str:
    """The name an event of `fmt` is loaded under: the format's mapping, else a common e-commerce name
    it spells, else as exported."""
    if vendor_name in fmt.event_names:
        return fmt.event_names[vendor_name]
    if not isinstance(vendor_name, str):  # a number or an object: the parser refuses it by its rules
        return vendor_name
    return _COMMON_BY_KEY.get(name_key(vendor_name), vendor_name)


@dataclass(frozen=True)
class EventFormat:
    name: str  # as declared in a landing folder's format.yml
    title: str  # as messages and docs name it
    # Fields every file of the format has (its header, or the keys of its JSON records): a file
    # without them is another format, and is refused by name.
    required_fields: tuple[str, ...]
    columns: Mapping[str, Source]
    timestamp: TimestampKind
    event_names: Mapping[str, str] = field(default_factory=dict)  # vendor name -> canonical name
    # Top-level fields holding a list of {key, value} pairs (GA4's event_params), read as one object.
    key_value_fields: tuple[str, ...] = ()
    # The event name of a row none of the event_name fields names (Segment: a page or an identify).
    unnamed_event: Callable[[pd.DataFrame], pd.Series] | None = None
    # Fields this hook reads, besides those of `columns`.
    unnamed_event_fields: tuple[str, ...] = ()
    # The column order of a headerless tab-separated export (Snowplow's enriched events, `.tsv`).
    tsv_columns: tuple[str, ...] = ()

    @property
    def fields_read(self) -> list[str]:
        """The top-level fields of a file that the mapping reads (only these columns are built)."""
        paths = [p for source in self.columns.values() for p in _paths(source)]
        heads = [path.split(".", 1)[0] for path in paths] + list(self.unnamed_event_fields)
        return list(dict.fromkeys(heads))

    def with_overrides(
        self,
        columns: Mapping[str, Source] | None = None,
        timestamp: TimestampKind | None = None,
        event_names: Mapping[str, str] | None = None,
    ) -> EventFormat:
        """This format with a landing folder's overrides: its columns replace ours, its names are added."""
        return replace(
            self,
            columns={**self.columns, **(columns or {})},
            timestamp=timestamp or self.timestamp,
            event_names={**self.event_names, **(event_names or {})},
        )


def _paths(source: Source) -> tuple[str, ...]:
    return source.paths if isinstance(source, HashOf) else source
