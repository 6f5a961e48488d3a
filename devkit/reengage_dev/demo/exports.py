"""Render the generator's coded batches into the landing-file contracts and write them.

Column names and order are the input contracts (reengage/defs/ingest/contracts.py). Timestamps are
ISO-8601 UTC strings ending in ``Z`` in CSV and JSON Lines and UTC timestamps
in Parquet; the email ``timestamp`` is Unix seconds everywhere, as SendGrid
exports it. Files are written to a hidden temporary name and renamed, so a
watcher never sees half a file, and every writer is deterministic.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from reengage_dev.demo import catalog as cat
from reengage_dev.demo.activity import EventBatch
from reengage_dev.demo.clock import TZ_COUNTRIES, TZ_NAMES, Window
from reengage_dev.demo.crm import Snapshot
from reengage_dev.demo.newsletter import EMAIL_EVENTS, REASONS, EmailBatch
from reengage_dev.demo.population import FIRST_NAMES, PLANS, Population, phone_numbers
from reengage_dev.demo.strings import from_codes, iso_utc

FORMATS = ("csv", "jsonl", "parquet")
DEFAULT_FORMATS = {"customers": "csv", "events": "parquet", "email_events": "jsonl", "products": "csv"}
# The exports the demo world writes in a chosen format: every source but sms_events, which its
# answers to texts write through the Twilio sink's writer (JSON Lines, twilio_sink/callbacks.py).
# The catalog (products) is a full snapshot each day.
SOURCES = tuple(DEFAULT_FORMATS)

CUSTOMER_COLUMNS = (
    "customer_id",
    "email",
    "first_name",
    "country",
    "timezone",
    "signup_at",
    "plan",
    "lifetime_value",
    "marketing_consent",
    "consent_updated_at",
    "updated_at",
    "phone",
    "sms_consent",
    "sms_consent_updated_at",
)
EVENT_COLUMNS = (
    "event_id",
    "user_id",
    "anonymous_id",
    "event_name",
    "event_ts",
    "page",
    "product_id",
    "category",
    "value",
    "device",
    "channel",
)
EMAIL_EVENT_COLUMNS = (
    "email",
    "event",
    "timestamp",
    "sg_message_id",
    "sg_event_id",
    "send_id",
    "campaign_id",
    "variant",
    "run_date",
    "reason",
)
PRODUCT_COLUMNS = (
    "product_id",
    "name",
    "category",
    "price",
    "currency",
    "image_url",
    "product_url",
    "in_stock",
    "updated_at",
)
COLUMNS = {
    "customers": CUSTOMER_COLUMNS,
    "events": EVENT_COLUMNS,
    "email_events": EMAIL_EVENT_COLUMNS,
    "products": PRODUCT_COLUMNS,
}


def landing_path(landing: Path, source: str, day_text: str, fmt: str) -> Path:
    return landing / source / f"{source}_{day_text}.{fmt}"


def _lookup(values: tuple[str, ...], codes: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    index = pa.array(np.asarray(codes, dtype=np.int32), mask=null)
    return pa.array(values, pa.string()).take(index)


def _timestamps(epoch_ms: np.ndarray, fmt: str, *, millis: bool) -> pa.Array:
    if fmt == "parquet":
        return pa.array(np.asarray(epoch_ms, dtype=np.int64), pa.timestamp("ms", tz="UTC"))
    return iso_utc(epoch_ms, millis=millis)


def render_customers(pop: Population, snap: Snapshot, fmt: str) -> pa.Table:
    rows = pa.array(snap.rows, pa.int64())
    tz = pop.tz[snap.rows]
    return pa.table(
        {
            "customer_id": pop.customer_id.take(rows),
            "email": pop.email.take(rows),
            "first_name": _lookup(FIRST_NAMES, pop.first_name[snap.rows]),
            "country": _lookup(TZ_COUNTRIES, tz),
            "timezone": _lookup(TZ_NAMES, tz),
            "signup_at": _timestamps(pop.signup_ms[snap.rows], fmt, millis=False),
            "plan": _lookup(PLANS, snap.plan),
            "lifetime_value": pa.array(snap.lifetime_value, pa.float64()),
            "marketing_consent": pa.array(snap.marketing_consent, pa.bool_()),
            "consent_updated_at": _timestamps(snap.consent_updated_ms, fmt, millis=False),
            "updated_at": _timestamps(snap.updated_ms, fmt, millis=False),
            "phone": phone_numbers(pop, snap.rows),
            "sms_consent": pa.array(pop.sms_consent[snap.rows], pa.bool_()),
            # given at signup and never changed in this world
            "sms_consent_updated_at": _timestamps(pop.signup_ms[snap.rows], fmt, millis=False),
        }
    )


def render_events(
    batch: EventBatch, pop: Population, anonymous_ids: pa.StringArray, catalog: cat.Catalog, fmt: str
) -> pa.Table:
    no_product = batch.product < 0
    product = pa.array(batch.product, mask=no_product)
    category = np.where(no_product, 0, catalog.product_category[np.maximum(batch.product, 0)])
    return pa.table(
        {
            "event_id": from_codes(batch.event_id),
            "user_id": pop.customer_id.take(pa.array(batch.cust, mask=~batch.identified)),
            "anonymous_id": anonymous_ids.take(pa.array(batch.anon, mask=batch.anon < 0)),
            "event_name": _lookup(cat.EVENT_NAMES, batch.name),
            "event_ts": _timestamps(batch.ts, fmt, millis=True),
            "page": catalog.pages.take(pa.array(batch.page)),
            "product_id": catalog.product_id.take(product),
            "category": _lookup(cat.CATEGORIES, category, null=no_product),
            "value": pa.array(batch.value, pa.float64(), from_pandas=True),
            "device": _lookup(("desktop", "mobile", "tablet"), batch.device),
            "channel": _lookup(cat.CHANNELS, batch.channel),
        }
    )


def render_email_events(
    batch: EmailBatch, pop: Population, window: Window, campaigns: Sequence[str], variants: Sequence[str]
) -> pa.Table:
    """`campaigns` and `variants` name the batch's codes (the newsletter's are code 0 and "a", "b")."""
    run_dates = tuple(window.day(k).isoformat() for k in range(window.days))
    return pa.table(
        {
            "email": pop.email.take(pa.array(batch.cust, pa.int64())),
            "event": _lookup(EMAIL_EVENTS, batch.event),
            "timestamp": pa.array(batch.ts_ms // 1000, pa.int64()),
            "sg_message_id": from_codes(batch.message_id),
            "sg_event_id": from_codes(batch.event_id),
            "send_id": from_codes(batch.send_id),
            "campaign_id": _lookup(tuple(campaigns), batch.campaign),
            "variant": _lookup(tuple(variants), batch.variant),
            "run_date": _lookup(run_dates, batch.run_day),
            "reason": _lookup(REASONS, batch.reason, null=batch.reason < 0),
        }
    )


def render_products(
    catalog: cat.Catalog, shelf: cat.Shelf, in_stock: np.ndarray, updated_ms: np.ndarray, fmt: str
) -> pa.Table:
    """A full snapshot of the catalog: every product the events may name, at the price their values use."""
    product_id = catalog.product_id
    return pa.table(
        {
            "product_id": product_id,
            "name": shelf.names,
            "category": _lookup(cat.CATEGORIES, catalog.product_category),
            "price": pa.array(catalog.price, pa.float64()),
            "currency": pa.array([cat.CURRENCY] * len(product_id), pa.string()),
            "image_url": pc.binary_join_element_wise(f"{cat.SHOP_URL}/images/", product_id, ".jpg", ""),
            "product_url": pc.binary_join_element_wise(f"{cat.SHOP_URL}/product/", product_id, ""),
            "in_stock": pa.array(in_stock, pa.bool_()),
            "updated_at": _timestamps(updated_ms, fmt, millis=False),
        }
    )


_JSONL_CHUNK_ROWS = 200_000


_ESCAPES = (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t"))


def _special_bytes(column: pa.StringArray, *, quotes: bool = True) -> bool:
    """Whether any value holds a control character (or a quote or backslash): one cheap byte scan."""
    if len(column) == 0 or column.buffers()[2] is None:
        return False
    offsets = np.frombuffer(column.buffers()[1], dtype=np.int32)[
        column.offset : column.offset + len(column) + 1
    ]
    data = np.frombuffer(column.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    found = data < 0x20
    if quotes:
        found |= (data == ord('"')) | (data == ord("\\"))
    return bool(found.any())


def _json_text(column: pa.Array) -> tuple[pa.Array, bool]:
    """Each value as JSON text (nulls and NaN as ``null``), and whether it still needs its quotes."""
    kind = column.type
    if pa.types.is_string(kind):
        if _special_bytes(column):
            for raw, escaped in _ESCAPES:
                column = pc.replace_substring(column, raw, escaped)
            if _special_bytes(column, quotes=False):
                raise ValueError("control characters other than \\n, \\r, \\t cannot be written as JSON here")
        if column.null_count == 0:
            return column, True  # the caller puts the quotes into the neighbouring constant pieces
        return pc.fill_null(pc.binary_join_element_wise('"', column, '"', ""), "null"), False
    if pa.types.is_boolean(kind):
        text = pc.if_else(column, "true", "false")
    elif pa.types.is_integer(kind):
        text = column.cast(pa.string())
    elif pa.types.is_floating(kind):
        text = pc.if_else(pc.is_finite(column), column.cast(pa.string()), pa.scalar(None, pa.string()))
    else:
        raise TypeError(f"no JSON rendering for {kind}; render timestamps as ISO strings first")
    return pc.fill_null(text, "null"), False


def _write_jsonl(table: pa.Table, path: Path) -> None:
    """JSON Lines built by Arrow kernels: one object per row, keys in contract order."""
    with open(path, "wb") as out:
        for start in range(0, table.num_rows, _JSONL_CHUNK_ROWS):
            chunk = table.slice(start, _JSONL_CHUNK_ROWS)
            pieces: list = []
            constant = "{"
            for name, column in zip(chunk.column_names, chunk.columns, strict=True):
                text, quote = _json_text(column.combine_chunks())
                pieces += [constant + json.dumps(name) + ":" + ('"' if quote else ""), text]
                constant = ('"' if quote else "") + ","
            pieces.append(constant[:-1] + "}\n")
            lines = pc.binary_join_element_wise(*pieces, "")
            offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)[
                lines.offset : lines.offset + len(lines) + 1
            ]
            out.write(memoryview(lines.buffers()[2])[offsets[0] : offsets[-1]])


def _dictionary_columns(table: pa.Table) -> list[str]:
    """Dictionary-encode the repetitive columns only; ids are unique, so trying costs time for nothing."""
    unique = {"event_id", "anonymous_id", "customer_id", "email", "sg_message_id", "sg_event_id", "send_id"}
    return [name for name in table.column_names if name not in unique]


def write_table(table: pa.Table, path: Path, fmt: str) -> None:
    """Write one landing file atomically (temp name, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    if fmt == "parquet":
        pq.write_table(table, tmp, compression="zstd", use_dictionary=_dictionary_columns(table))
    elif fmt == "csv":
        pacsv.write_csv(table, tmp, pacsv.WriteOptions(quoting_style="needed"))
    elif fmt == "jsonl":
        _write_jsonl(table, tmp)
    else:
        raise ValueError(f"unknown format {fmt!r}; expected one of {FORMATS}")
    os.replace(tmp, path)
