"""Deliberately bad rows, because bad input is normal input for this product.

Each landing file gets a rare, counted sprinkle of defects. With
``dirty_share`` s, each row carries each kind below with probability
s / (kinds of that source), at most one kind per row, so a file holds
Binomial(rows, s / kinds) rows of each kind; ``dirty_share=0`` writes a fully
clean world. Whether and how a row is damaged is drawn from the row's own key
(the customer and day, the event id, the webhook event id; ``keyed``), so it
never depends on other rows: a message to one user never moves a defect onto
another user's row.

customers (4 kinds):
- ``invalid_email``: the address loses its ``@``, gets ``@@`` or a space.
- ``unknown_timezone``: a name that is not in the IANA database (``Mars/Olympus_Mons``).
- ``negative_lifetime_value``: lifetime_value below zero.
- ``unparseable_timestamp``: ``signup_at`` is text no parser accepts (``31/02/2024 25:61``).
  CSV and JSON Lines only; Parquet timestamps are typed, so this kind is 0 there.

events (3 kinds):
- ``duplicate_event_id``: an exact copy of a clean row, right after it (an SDK retry).
- ``missing_identity``: both ``user_id`` and ``anonymous_id`` are null.
- ``future_timestamp``: ``event_ts`` 2 to 365 days after the file's day (a device clock).

email_events (1 kind):
- ``duplicate_webhook``: the same webhook event (same ``sg_event_id``) delivered twice,
  which SendGrid's retries do for real.

products (2 kinds):
- ``negative_price``: price below zero (an export's sign error).
- ``bad_url``: ``product_url`` or ``image_url`` is no web address (the scheme left off, or
  ``javascript:``).

Counts are per extra or damaged row, so "rows that look like kind X in the files"
equals the count in ``WorldSummary.dirty_rows``.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from reengage_dev.demo.activity import EventBatch
from reengage_dev.demo.clock import DAY_MS
from reengage_dev.demo.keyed import KeyedDraws, codes_key, combine
from reengage_dev.demo.newsletter import EmailBatch

CUSTOMER_KINDS = ("invalid_email", "unknown_timezone", "negative_lifetime_value", "unparseable_timestamp")
EVENT_KINDS = ("duplicate_event_id", "missing_identity", "future_timestamp")
EMAIL_KINDS = ("duplicate_webhook",)
PRODUCT_KINDS = ("negative_price", "bad_url")
KINDS = {
    "customers": CUSTOMER_KINDS,
    "events": EVENT_KINDS,
    "email_events": EMAIL_KINDS,
    "products": PRODUCT_KINDS,
}

UNKNOWN_TIMEZONES = ("Mars/Olympus_Mons", "America/Gotham", "Europe/Atlantis", "Pacific/Nowhere")
BAD_TIMESTAMPS = ("31/02/2024 25:61", "not a date", "2024-13-45T99:99:99Z", "yesterday")


def _kind_of_each_row(draws: KeyedDraws, share: float, kinds: int) -> np.ndarray:
    """-1 for a clean row, else the index of the one defect the row carries."""
    rows = len(draws)
    if rows == 0 or share <= 0:
        return np.full(rows, -1, np.int64)
    kind = np.floor(draws.random(rows) * kinds / share).astype(np.int64)
    return np.where(kind < kinds, kind, -1)


def _replace(column: pa.Array, rows: np.ndarray, values: pa.Array) -> pa.Array:
    mask = np.zeros(len(column), bool)
    mask[rows] = True
    return pc.replace_with_mask(column, pa.array(mask), values.cast(column.type))


def _choose(draws: KeyedDraws, options: tuple[str, ...], rows: np.ndarray) -> pa.Array:
    picks = draws.integers(0, len(options), len(draws))[rows]
    return pa.array(options).take(pa.array(picks))


def dirty_customers(
    seed: int, day: int, table: pa.Table, customer: np.ndarray, share: float
) -> tuple[pa.Table, dict[str, int]]:
    """`customer`: the customer index of each row (with the day, the key of the row's draws)."""
    draws = KeyedDraws(seed, "dirt", combine(customer, day, 1))
    kind = _kind_of_each_row(draws, share, len(CUSTOMER_KINDS))
    bad_email, bad_tz, bad_ltv, bad_ts = (np.flatnonzero(kind == i) for i in range(len(CUSTOMER_KINDS)))
    if not pa.types.is_string(table.schema.field("signup_at").type):
        bad_ts = bad_ts[:0]  # typed Parquet timestamps cannot hold garbage text

    email = table["email"].combine_chunks().take(pa.array(bad_email, pa.int64()))
    style = draws.integers(0, 3, len(draws))[bad_email]
    broken = pc.if_else(
        pa.array(style == 0),
        pc.replace_substring(email, "@", ""),
        pc.if_else(
            pa.array(style == 1),
            pc.replace_substring(email, "@", "@@"),
            pc.replace_substring(email, ".", " ", max_replacements=1),
        ),
    )
    ltv = table["lifetime_value"].combine_chunks().take(pa.array(bad_ltv, pa.int64()))
    negative = pc.subtract(pc.negate(pc.abs(ltv)), 1.0)
    columns = {
        "email": (bad_email, broken),
        "timezone": (bad_tz, _choose(draws, UNKNOWN_TIMEZONES, bad_tz)),
        "lifetime_value": (bad_ltv, negative),
        "signup_at": (bad_ts, _choose(draws, BAD_TIMESTAMPS, bad_ts)),
    }
    for name, (rows, values) in columns.items():
        if len(rows):
            position = table.schema.get_field_index(name)
            table = table.set_column(position, name, _replace(table[name].combine_chunks(), rows, values))
    counts = (bad_email, bad_tz, bad_ltv, bad_ts)
    return table, {kind: len(rows) for kind, rows in zip(CUSTOMER_KINDS, counts, strict=True)}


def _with_copies(length: int, duplicate: np.ndarray) -> np.ndarray:
    """Row order with a copy of each `duplicate` row right after it."""
    return np.sort(np.concatenate([np.arange(length), duplicate]), kind="stable")


def dirty_events(
    seed: int, batch: EventBatch, share: float, day_ms: int
) -> tuple[EventBatch, dict[str, int]]:
    draws = KeyedDraws(seed, "dirt", codes_key(batch.event_id))
    kind = _kind_of_each_row(draws, share, len(EVENT_KINDS))
    duplicate, missing, future = (np.flatnonzero(kind == i) for i in range(len(EVENT_KINDS)))
    later = draws.integers(2 * DAY_MS, 365 * DAY_MS, len(draws))
    batch.identified[missing] = False
    batch.anon[missing] = -1
    batch.ts[future] = day_ms + later[future]
    counts = (duplicate, missing, future)
    taken = batch.take(_with_copies(len(batch), duplicate))
    return taken, {kind: len(rows) for kind, rows in zip(EVENT_KINDS, counts, strict=True)}


def dirty_email_events(seed: int, batch: EmailBatch, share: float) -> tuple[EmailBatch, dict[str, int]]:
    draws = KeyedDraws(seed, "dirt", codes_key(batch.event_id))
    duplicate = np.flatnonzero(_kind_of_each_row(draws, share, len(EMAIL_KINDS)) == 0)
    return batch.take(_with_copies(len(batch), duplicate)), {"duplicate_webhook": len(duplicate)}


def dirty_products(seed: int, day: int, table: pa.Table, share: float) -> tuple[pa.Table, dict[str, int]]:
    """The catalog snapshot of `day`, a row's draws keyed by its product and the day (the word 4 keeps
    them apart from a customer's of the same number)."""
    draws = KeyedDraws(seed, "dirt", combine(np.arange(table.num_rows), day, 4))
    kind = _kind_of_each_row(draws, share, len(PRODUCT_KINDS))
    bad_price, bad_url = (np.flatnonzero(kind == i) for i in range(len(PRODUCT_KINDS)))
    price = table["price"].combine_chunks().take(pa.array(bad_price, pa.int64()))
    column = np.where(draws.integers(0, 2, len(draws))[bad_url] == 0, "product_url", "image_url")
    url_rows = {name: bad_url[column == name] for name in ("product_url", "image_url")}
    broken = {
        name: pc.if_else(
            pa.array(draws.integers(0, 2, len(draws))[rows] == 0),
            pc.replace_substring(
                table[name].combine_chunks().take(pa.array(rows, pa.int64())), "https://", ""
            ),
            pa.scalar("javascript:void(0)"),
        )
        for name, rows in url_rows.items()
    }
    columns = {
        "price": (bad_price, pc.subtract(pc.negate(pc.abs(price)), 1.0)),
        **{name: (url_rows[name], broken[name]) for name in url_rows},
    }
    for name, (rows, values) in columns.items():
        if len(rows):
            position = table.schema.get_field_index(name)
            table = table.set_column(position, name, _replace(table[name].combine_chunks(), rows, values))
    return table, {"negative_price": len(bad_price), "bad_url": len(bad_url)}
