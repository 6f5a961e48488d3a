"""Turn a chunk of a vendor export into the `events` contract's text columns.

The result is what the reader gives for a file in the project's own format (the contract's
columns as text, plus the reader's lineage and row-problem columns), so parse.py types,
judges and quarantines it, and the loader stages it, exactly as any other export. What only
the format can judge is put on the row as a read problem naming the vendor's field: a time
that is not in the format's unit, a nested field that is not JSON.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal, InvalidOperation

import pandas as pd

from reengage.defs.ingest.contracts import EVENTS
from reengage.defs.ingest.formats.spec import EventFormat, HashOf, TimestampKind, event_name_here
from reengage.defs.ingest.reader import (
    NESTED_ATTR,
    NOT_UTF8_ATTR,
    NUL_ATTR,
    READ_COLUMNS,
    NestedValue,
    as_text,
)

# Microseconds in one unit of a Unix time.
UNIX_UNITS: dict[TimestampKind, int] = {
    "unix_seconds": 1_000_000,
    "unix_milliseconds": 1_000,
    "unix_microseconds": 1,
}
TIMESTAMP_PROBLEMS: dict[TimestampKind, str] = {
    "unix_seconds": "not a Unix time in seconds",
    "unix_milliseconds": "not a Unix time in milliseconds",
    "unix_microseconds": "not a Unix time in microseconds",
    "utc_text": "not a UTC timestamp (YYYY-MM-DD HH:MM:SS[.ffffff])",
}
EPOCH = pd.Timestamp("1970-01-01", tz="UTC")
NOT_JSON = "not a JSON object or list (a nested field)"
_BROKEN = object()


def to_canonical(chunk: pd.DataFrame, fmt: EventFormat) -> pd.DataFrame:
    """The contract's columns of `chunk` (rows as read from a `fmt` export), with its lineage."""
    fields = _Fields(chunk, fmt)
    columns: dict[str, pd.Series] = {}
    sources: dict[str, pd.Series] = {}
    for name in EVENTS.names:
        source = fmt.columns.get(name, ())
        if isinstance(source, HashOf):
            columns[name] = _hashed(fields, source)
            sources[name] = pd.Series(" + ".join(source.paths), index=chunk.index, dtype=object)
        else:
            columns[name], sources[name] = _first_present(fields, source, chunk.index)
    name = columns["event_name"]
    if fmt.unnamed_event is not None and name.isna().any():
        name = name.where(name.notna(), fmt.unnamed_event(chunk))
    columns["event_name"] = name.map(lambda value: event_name_here(value, fmt), na_action="ignore")
    if fmt.timestamp != "iso8601":
        columns["event_ts"] = _utc_texts(columns["event_ts"], sources["event_ts"], fmt.timestamp, fields)
    frame = pd.DataFrame(columns, index=chunk.index)
    for name in READ_COLUMNS:
        frame[name] = chunk[name] if name in chunk.columns else None
    fields.note_problems(frame)
    frame.attrs.update(
        {
            NOT_UTF8_ATTR: chunk.attrs.get(NOT_UTF8_ATTR, False),
            NUL_ATTR: chunk.attrs.get(NUL_ATTR, False),
            NESTED_ATTR: {n for n in EVENTS.names if columns[n].map(_is_nested).any()},
        }
    )
    return frame


class _Fields:
    """The values at a field path, row by row; each nested top-level field is parsed once."""

    def __init__(self, chunk: pd.DataFrame, fmt: EventFormat) -> None:
        self._chunk = chunk
        self._fmt = fmt
        self._parsed: dict[str, list[object]] = {}
        self._problems: dict[int, tuple[str, str]] = {}  # position -> (reason, field)

    def at(self, path: str) -> pd.Series:
        head, _, rest = path.partition(".")
        top = self._top(head)
        if not rest and head not in self._fmt.key_value_fields:
            return top
        values = [_dig(value, rest.split(".") if rest else []) for value in self._objects(head, top)]
        return pd.Series(values, index=self._chunk.index, dtype=object)

    def problem(self, position: int, reason: str, field: str) -> None:
        self._problems.setdefault(position, (reason, field))

    def note_problems(self, frame: pd.DataFrame) -> None:
        """Put the format's own row problems where the reader found none (parse.py quarantines them)."""
        for position, (reason, field) in sorted(self._problems.items()):
            index = frame.index[position]
            if frame.at[index, "_read_error"] is None or pd.isna(frame.at[index, "_read_error"]):
                frame.at[index, "_read_error"] = reason
                frame.at[index, "_read_column"] = field

    def _top(self, name: str) -> pd.Series:
        if name in self._chunk.columns:
            return self._chunk[name]
        return pd.Series([None] * len(self._chunk), index=self._chunk.index, dtype=object)

    def _objects(self, name: str, top: pd.Series) -> list[object]:
        if name not in self._parsed:
            objects = []
            for position, value in enumerate(top.tolist()):
                parsed = _parsed(value)
                if parsed is _BROKEN:
                    self.problem(position, NOT_JSON, name)
                    parsed = None
                if name in self._fmt.key_value_fields:
                    parsed = _pairs_as_object(parsed)
                objects.append(parsed)
            self._parsed[name] = objects
        return self._parsed[name]


def _parsed(value: object) -> object:
    """A nested field as Python objects, from JSON text (a reader's NestedValue, or a CSV cell)."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        return _BROKEN
    return parsed if isinstance(parsed, dict | list) else _BROKEN


def _pairs_as_object(value: object) -> dict[str, object] | None:
    """GA4's [{key, value: {string_value | int_value | float_value | double_value}}] as {key: value}."""
    if not isinstance(value, list):
        return None
    pairs: dict[str, object] = {}
    for pair in value:
        if isinstance(pair, dict) and isinstance(pair.get("key"), str):
            inner = pair.get("value")
            if isinstance(inner, dict):
                inner = next((v for v in inner.values() if v is not None), None)
            pairs.setdefault(pair["key"], inner)
    return pairs


def _dig(value: object, steps: list[str]) -> object:
    for step in steps:
        if isinstance(value, dict):
            value = value.get(step)
        elif isinstance(value, list) and step.isdigit() and int(step) < len(value):
            value = value[int(step)]
        else:
            return None
    return value


def _is_nested(value: object) -> bool:
    return isinstance(value, NestedValue)


def _texts(values: pd.Series) -> pd.Series:
    """Values as the reader's text: objects and lists as JSON (refused where one value is expected)."""
    return values.map(lambda v: v if isinstance(v, str) else as_text(v)).astype(object)


def _first_present(fields: _Fields, paths: tuple[str, ...], index: pd.Index) -> tuple[pd.Series, pd.Series]:
    """The first non-empty value of `paths` per row, and the path it came from."""
    values = pd.Series([None] * len(index), index=index, dtype=object)
    sources = pd.Series(paths[0] if paths else None, index=index, dtype=object)
    for path in paths:
        found = _texts(fields.at(path))
        fresh = values.isna() & found.notna() & (found.str.strip() != "")
        values = values.where(~fresh, found)
        sources[fresh] = path
    return values, sources


def _hashed(fields: _Fields, source: HashOf) -> pd.Series:
    parts = [_texts(fields.at(path)).tolist() for path in source.paths]
    hashed = []
    for row in zip(*parts, strict=True):
        if all(value is None or value == "" for value in row):
            hashed.append(None)
        else:
            text = json.dumps([value or "" for value in row])
            hashed.append(hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:32])
    return pd.Series(hashed, index=fields.at(source.paths[0]).index, dtype=object)


def _utc_texts(values: pd.Series, sources: pd.Series, kind: TimestampKind, fields: _Fields) -> pd.Series:
    """A format's times as ISO-8601 UTC text to the microsecond; a value not of its kind is a row problem."""
    if kind == "utc_text":
        stamps = pd.to_datetime(values, utc=True, errors="coerce", format="ISO8601")
    else:
        stamps = pd.Series(
            [_from_unix(v, UNIX_UNITS[kind]) for v in values], index=values.index, dtype=object
        )
        stamps = pd.to_datetime(stamps, utc=True)
    bad = values.notna() & stamps.isna()
    for position in bad.to_numpy().nonzero()[0]:
        fields.problem(int(position), TIMESTAMP_PROBLEMS[kind], sources.iloc[position])
    texts = stamps.dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ").astype(object)
    return texts.where(~bad & texts.notna(), values.where(bad, None))


def _from_unix(text: object, micros_per_unit: int) -> pd.Timestamp | None:
    """Exact to the microsecond: the text is read as a decimal number, never as a float."""
    if text is None:
        return None
    try:
        micros = int(Decimal(str(text).strip()) * micros_per_unit)
        return EPOCH + pd.Timedelta(microseconds=micros)
    except (InvalidOperation, ValueError, OverflowError, ArithmeticError):
        return None
