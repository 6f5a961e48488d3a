"""Find and read one day's export file, whatever its format, as text columns.

Everything is read as text first so that a bad value becomes a quarantined row
with its row and column, never a whole-file type error.
"""

from __future__ import annotations

import io
import json
from datetime import date

import fsspec
import pandas as pd
import pyarrow.parquet as pq

FORMATS = ("csv", "jsonl", "parquet")


class IngestError(Exception):
    """A whole file cannot be loaded; the message names the file (and row/column when known)."""


def find_export(landing: str, source: str, day: date) -> str | None:
    """The path of `source`'s file for `day`, or None; two files for one day is an error."""
    fs, root = fsspec.core.url_to_fs(landing)
    stem = f"{root.rstrip('/')}/{source}/{source}_{day.isoformat()}"
    found = [f"{stem}.{ext}" for ext in FORMATS if fs.exists(f"{stem}.{ext}")]
    if len(found) > 1:
        raise IngestError(f"{source} for {day}: more than one export ({', '.join(found)}); keep one")
    if not found:
        return None
    protocol = landing.split("://", 1)[0] + "://" if "://" in landing else ""
    return protocol + found[0]


def read_export(path: str) -> pd.DataFrame:
    """Read a CSV, JSON Lines or Parquet export into a frame of text (or None) columns.

    The returned frame has `_source_row`: the 1-based data row (for CSV the header is
    row 0, so a data row's line number is `_source_row + 1` when no field spans lines).
    """
    with fsspec.open(path, "rb") as handle:
        raw = handle.read()
    ext = path.rsplit(".", 1)[-1].lower()
    if ext == "parquet":
        frame = _read_parquet(path, raw)
    else:
        text = _decode(path, raw)
        frame = _read_csv(path, text) if ext == "csv" else _read_jsonl(path, text)
    frame.columns = [str(c).strip() for c in frame.columns]
    frame.insert(0, "_source_row", range(1, len(frame) + 1))
    return frame


def _decode(path: str, raw: bytes) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise IngestError(
            f"{path}: line {line}: not UTF-8 (byte {raw[err.start]:#04x} at offset {err.start})"
        ) from err
    return text.removeprefix("\ufeff")


def _read_csv(path: str, text: str) -> pd.DataFrame:
    if not text.strip():
        raise IngestError(f"{path}: the file is empty (no header row)")
    header = text.splitlines()[0]
    if "," not in header and any(sep in header for sep in (";", "\t", "|")):
        raise IngestError(f"{path}: line 1: the header is not comma-separated ({header[:80]!r})")
    try:
        return pd.read_csv(
            io.StringIO(text), dtype=str, keep_default_na=False, na_values=[""], on_bad_lines="error"
        )
    except pd.errors.ParserError as err:
        raise IngestError(f"{path}: malformed CSV: {err}") from err


def _read_jsonl(path: str, text: str) -> pd.DataFrame:
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise IngestError(f"{path}: line {number}: not valid JSON ({err.msg})") from err
        if not isinstance(record, dict):
            raise IngestError(f"{path}: line {number}: expected a JSON object")
        records.append(record)
    frame = pd.DataFrame.from_records(records)
    return frame.astype(object).where(frame.notna(), None).map(_as_text)


def _read_parquet(path: str, raw: bytes) -> pd.DataFrame:
    try:
        table = pq.read_table(io.BytesIO(raw))
    except Exception as err:  # pyarrow raises several types for a damaged file
        raise IngestError(f"{path}: not a readable Parquet file ({err})") from err
    frame = table.to_pandas()
    for name in frame.columns:
        if pd.api.types.is_datetime64_any_dtype(frame[name]):
            series = frame[name]
            if series.dt.tz is None:
                series = series.dt.tz_localize("UTC")
            frame[name] = series.dt.strftime("%Y-%m-%dT%H:%M:%S.%f%z").where(series.notna(), None)
    return frame.astype(object).where(frame.notna(), None).map(_as_text)


def _as_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)
