"""Deliberately bad rows, because bad input is normal input for this product.

Each landing file gets a rare, counted sprinkle of defects. With
``dirty_share`` s, every kind below is drawn as Binomial(rows, s / kinds of
that source) per file, on distinct rows (a row carries at most one defect);
``dirty_share=0`` writes a fully clean world.

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

Counts are per extra or damaged row, so "rows that look like kind X in the files"
equals the count in ``WorldSummary.dirty_rows``.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from orchestration.demo.activity import EventBatch
from orchestration.demo.clock import DAY_MS
from orchestration.demo.newsletter import EmailBatch

CUSTOMER_KINDS = ("invalid_email", "unknown_timezone", "negative_lifetime_value", "unparseable_timestamp")
EVENT_KINDS = ("duplicate_event_id", "missing_identity", "future_timestamp")
EMAIL_KINDS = ("duplicate_webhook",)
KINDS = {"customers": CUSTOMER_KINDS, "events": EVENT_KINDS, "email_events": EMAIL_KINDS}

UNKNOWN_TIMEZONES = ("Mars/Olympus_Mons", "America/Gotham", "Europe/Atlantis", "Pacific/Nowhere")
BAD_TIMESTAMPS = ("31/02/2024 25:61", "not a date", "2024-13-45T99:99:99Z", "yesterday")


def _pick(rng: np.random.Generator, rows: int, share: float, kinds: int) -> list[np.ndarray]:
    """Distinct sorted row numbers for each kind."""
    counts = rng.binomial(rows, share / kinds, size=kinds) if rows and share > 0 else np.zeros(kinds, int)
    total = min(int(counts.sum()), rows)
    chosen = rng.choice(rows, size=total, replace=False) if total else np.zeros(0, np.int64)
    bounds = np.minimum(np.cumsum(np.r_[0, counts]), total)
    return [np.sort(chosen[bounds[i] : bounds[i + 1]]) for i in range(kinds)]


def _replace(column: pa.Array, rows: np.ndarray, values: pa.Array) -> pa.Array:
    mask = np.zeros(len(column), bool)
    mask[rows] = True
    return pc.replace_with_mask(column, pa.array(mask), values.cast(column.type))


def _choose(rng: np.random.Generator, options: tuple[str, ...], n: int) -> pa.Array:
    return pa.array(options).take(pa.array(rng.integers(0, len(options), n)))


def dirty_customers(
    rng: np.random.Generator, table: pa.Table, share: float
) -> tuple[pa.Table, dict[str, int]]:
    bad_email, bad_tz, bad_ltv, bad_ts = _pick(rng, table.num_rows, share, len(CUSTOMER_KINDS))
    if not pa.types.is_string(table.schema.field("signup_at").type):
        bad_ts = bad_ts[:0]  # typed Parquet timestamps cannot hold garbage text

    email = table["email"].combine_chunks().take(pa.array(bad_email, pa.int64()))
    style = rng.integers(0, 3, len(bad_email))
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
        "timezone": (bad_tz, _choose(rng, UNKNOWN_TIMEZONES, len(bad_tz))),
        "lifetime_value": (bad_ltv, negative),
        "signup_at": (bad_ts, _choose(rng, BAD_TIMESTAMPS, len(bad_ts))),
    }
    for name, (rows, values) in columns.items():
        if len(rows):
            position = table.schema.get_field_index(name)
            table = table.set_column(position, name, _replace(table[name].combine_chunks(), rows, values))
    counts = (bad_email, bad_tz, bad_ltv, bad_ts)
    return table, {kind: len(rows) for kind, rows in zip(CUSTOMER_KINDS, counts, strict=True)}


def dirty_events(
    rng: np.random.Generator, batch: EventBatch, share: float, day_ms: int
) -> tuple[EventBatch, dict[str, int]]:
    duplicate, missing, future = _pick(rng, len(batch), share, len(EVENT_KINDS))
    batch.identified[missing] = False
    batch.anon[missing] = -1
    batch.ts[future] = day_ms + rng.integers(2 * DAY_MS, 365 * DAY_MS, len(future))
    order = np.sort(np.concatenate([np.arange(len(batch)), duplicate]), kind="stable")
    counts = (duplicate, missing, future)
    return batch.take(order), {kind: len(rows) for kind, rows in zip(EVENT_KINDS, counts, strict=True)}


def dirty_email_events(
    rng: np.random.Generator, batch: EmailBatch, share: float
) -> tuple[EmailBatch, dict[str, int]]:
    (duplicate,) = _pick(rng, len(batch), share, 1)
    order = np.sort(np.concatenate([np.arange(len(batch)), duplicate]), kind="stable")
    return batch.take(order), {"duplicate_webhook": len(duplicate)}
