"""Turn a frame of text columns into typed good rows and quarantined bad rows.

Every check is vectorised over the rows given (a file, or a chunk of one); each
bad row keeps the first reason found, with the column it was found in, so a
person can fix the export.
A reason is a stable text ("not a number") that counts group by, sometimes with
a detail in parentheses that points at another row or at the CSV line.
"""

from __future__ import annotations

import json
import zoneinfo
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache

import numpy as np
import pandas as pd

from reengage.catalog_values import VALID_CURRENCY, VALID_URL
from reengage.defs.ingest.contracts import Column, ColumnType, Contract, warehouse_lookback_days
from reengage.defs.ingest.names import name_key
from reengage.defs.ingest.reader import NESTED_ATTR, NOT_UTF8, NOT_UTF8_ATTR, NUL_ATTR, NestedValue
from reengage.emails import VALID_ADDRESS
from reengage.phones import VALID_NUMBER

EARLIEST = pd.Timestamp("2000-01-01", tz="UTC")
# Clocks drift and CRM exports are cut late: allow a day past the partition before calling a CRM
# timestamp "future". Events are partitioned by their own time, so an event after its day is wrong
# (the raw_events suite fails such a row critically; ingest quarantines it first).
FUTURE_SLACK = {"default": timedelta(days=1), "event_ts": timedelta(0)}
TRUE_WORDS = ("true", "t", "1", "yes", "y")
FALSE_WORDS = ("false", "f", "0", "no", "n")
# An ISO-8601 text with a UTC offset or Z at the end; without one a value is read as UTC and warned about.
HAS_OFFSET = r"(?:[zZ]|[+-]\d{2}(?::?\d{2})?)$"
# A Unix timestamp this large is no longer seconds (it would be after the year 5138): milliseconds?
MAX_UNIX_SECONDS = 1e11
DATE_FORMAT, DATE_FORMAT_SHOWN = "%Y-%m-%d", "YYYY-MM-DD"
# Values of each type that ingest accepts, as the generated contract docs show them
# (reengage/contract_doc.py); tests/ingest/test_contract_doc.py loads every one.
ACCEPTED_SAMPLES: dict[ColumnType, tuple[str, ...]] = {
    "timestamp": (
        "2026-03-10T08:15:00Z",
        "2026-03-10 10:15:00+02:00",
        "2026-03-10T10:15:00.250+0200",
        "2026-03-10",
    ),
    "unix_timestamp": ("1773130500", "1773130500.25"),
    "boolean": TRUE_WORDS + FALSE_WORDS + ("Yes", "FALSE"),
    "double": ("12.5", "-3", "1e3"),
    "date": ("2026-03-10",),
    "timezone": ("Europe/Paris", "America/New_York", "UTC"),
    "email": ("Ann.Lee@Example.com", "o'brien+news@mail.example.co.uk"),
    "phone": ("+4915123456789", "+14155550100"),
    "url": ("https://shop.example.com/product/sku-123", "http://shop.example.com:8080/p?id=123#top"),
    "currency": ("EUR", "usd"),
    "text": ("any text",),
}


@dataclass
class ParsedExport:
    good: pd.DataFrame  # typed columns of the contract + _source_row
    # row, column, reason, raw_record, row_kept (+ kind: the reason without its detail): a refused row
    # (row_kept false), or a value of a soft column set to null in a row that was kept (true)
    quarantine: pd.DataFrame
    warnings: list[str]
    # Per timestamp column: (values read as UTC for want of an offset, first such row); see naive_warning.
    naive_timestamps: dict[str, tuple[int, int]] = field(default_factory=dict)


@cache
def known_timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def parse_export(
    frame: pd.DataFrame, contract: Contract, path: str, day: date, find_duplicates: bool = True
) -> ParsedExport:
    """Check `frame` (rows as read; its header already judged by header.check_columns) against
    `contract` for partition `day`.

    `find_duplicates=False` leaves rows sharing the unique key to the caller: a file read in
    chunks looks for them across the whole file (loader.py).
    """
    # The reader's notes, read once here: pandas deep-copies a frame's attrs into every frame and series
    # an operation makes, which cost a small chunk most of its parsing time.
    notes = dict(frame.attrs)
    frame = _with_contract_columns(frame, contract).copy(deep=False)
    frame.attrs = {}
    warnings: list[str] = []
    naive: dict[str, tuple[int, int]] = {}
    n = len(frame)
    reason = pd.Series([None] * n, index=frame.index, dtype=object)
    kind = pd.Series([None] * n, index=frame.index, dtype=object)
    column = pd.Series([None] * n, index=frame.index, dtype=object)
    # Per soft column, the first problem of each row's value: the value is set to null, the row kept.
    nulled = {name: pd.Series([None] * n, index=frame.index, dtype=object) for name in contract.soft_columns}

    def flag(mask: pd.Series, col: str | None, why: str | pd.Series, detail: pd.Series | None = None) -> None:
        if isinstance(col, str) and col in nulled:
            first = mask.fillna(False).astype(bool) & nulled[col].isna()
            nulled[col][first] = why[first] if isinstance(why, pd.Series) else why
            return
        fresh = mask.fillna(False).astype(bool) & reason.isna()
        if not fresh.any():
            return
        base = why[fresh] if isinstance(why, pd.Series) else why
        kind[fresh] = base
        reason[fresh] = base if detail is None else base + detail[fresh]
        column[fresh] = col if not isinstance(col, pd.Series) else col[fresh]

    # Rows the reader could not read as a record, then values that are not UTF-8 text.
    read_error = frame["_read_error"]
    flag(read_error.notna(), frame["_read_column"], read_error.where(read_error.notna(), ""))
    for col in contract.columns if notes.get(NOT_UTF8_ATTR) else ():
        bad_bytes = frame[col.name].map(_has_bad_bytes).astype(bool)
        if bad_bytes.any():
            flag(bad_bytes, col.name, "contains bytes that are not UTF-8")
            # Shown as \xNN from here on (the quarantined record keeps them visible and is valid JSON).
            frame[col.name] = frame[col.name].where(~bad_bytes, frame[col.name].map(_show_bytes))
    # Values a column of one value cannot hold: NUL bytes, and lists or objects (the reader marks them).
    for col in contract.columns if notes.get(NUL_ATTR) else ():
        flag(frame[col.name].map(_has_nul).astype(bool), col.name, "contains a NUL byte")
    nested = notes.get(NESTED_ATTR, set())
    for col in (c for c in contract.columns if c.name in nested):
        is_nested = frame[col.name].map(lambda v: isinstance(v, NestedValue)).astype(bool)
        flag(is_nested, col.name, "a list or object, not a single value")

    day_start = pd.Timestamp(datetime.combine(day, datetime.min.time(), tzinfo=UTC))
    typed: dict[str, pd.Series] = {}
    for col in contract.columns:
        text = frame[col.name].astype(object).where(frame[col.name].notna(), None)
        text = _strip(text)
        text = text.where(text.notna() & (text != ""), None).astype(object)
        if col.required:
            flag(text.isna(), col.name, "required value is empty")
        slack = FUTURE_SLACK.get(col.name, FUTURE_SLACK["default"])
        end = day_start + timedelta(days=1)
        typed[col.name] = _convert(col, text, flag, end, slack, naive, frame["_source_row"])

    if contract.late_column:
        _too_late(typed[contract.late_column], contract.late_column, day_start, flag)
    _row_rules(contract, typed, flag)
    for name, why in nulled.items():
        typed[name] = typed[name].where(why.isna(), None)
    if contract.unique_key and find_duplicates:
        _duplicates(contract, frame, typed, reason, flag)

    good_mask = reason.isna()
    line = frame["_source_line"]

    good = pd.DataFrame({name: series[good_mask] for name, series in typed.items()})
    good.insert(0, "_source_row", frame.loc[good_mask, "_source_row"].astype("int64"))
    refused = _quarantine_rows(
        frame[~good_mask],
        contract,
        _naming_the_line(reason[~good_mask], line[~good_mask]),
        kind[~good_mask],
        column[~good_mask],
    )
    # A refused row's soft problems go unreported: the row is in the quarantine for its first problem.
    kept_with_nulls = [
        _quarantine_rows(
            frame[warned],
            contract,
            _naming_the_line(why[warned], line[warned]),
            why[warned],
            pd.Series(name, index=frame.index[warned], dtype=object),
            row_kept=True,
        )
        for name, why in nulled.items()
        if (warned := why.notna() & good_mask).any()
    ]
    quarantine = pd.concat([refused, *kept_with_nulls], ignore_index=True) if kept_with_nulls else refused
    if kept_with_nulls:
        quarantine = quarantine.sort_values("row", kind="stable", ignore_index=True)
    return ParsedExport(
        good=good.reset_index(drop=True), quarantine=quarantine, warnings=warnings, naive_timestamps=naive
    )


def _naming_the_line(reasons: pd.Series, line: pd.Series) -> pd.Series:
    """A quoted line break moves a CSV row off line row + 1: its reason names the line too."""
    moved = line.notna()
    if not moved.any():
        return reasons
    shown = " (CSV line " + line[moved].astype("Int64").astype(str) + ")"
    return reasons.where(~moved, reasons + shown.reindex(reasons.index, fill_value=""))


def naive_warning(path: str, column: str, count: int, first_row: int) -> str:
    return (
        f"{path}: column {column!r}: {count} values have no UTC offset and were read as UTC "
        f"(first at row {first_row})"
    )


def _strip(text: pd.Series) -> pd.Series:
    """Trim every value (vectorised; the readers give text or None, anything else is made text)."""
    if not len(text):
        return text
    try:
        return text.str.strip()
    except AttributeError:
        return text.map(lambda v: str(v).strip() if v is not None else None)


def _has_bad_bytes(value: object) -> bool:
    return isinstance(value, str) and NOT_UTF8.search(value) is not None


def _show_bytes(value: object) -> object:
    if not isinstance(value, str):
        return value
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _has_nul(value: object) -> bool:
    return isinstance(value, str) and "\x00" in value


def _with_contract_columns(frame: pd.DataFrame, contract: Contract) -> pd.DataFrame:
    """Every contract column, absent ones as empty (a header missing a required one was refused)."""
    absent = [name for name in contract.names if name not in frame.columns]
    return frame.assign(**dict.fromkeys(absent)) if absent else frame


def _too_late(values: pd.Series, column: str, day_start: pd.Timestamp, flag) -> None:
    """Events dated before the warehouse's look-back from their file's day: no dbt run reads them again."""
    days = warehouse_lookback_days()
    flag(
        values < day_start - timedelta(days=days),
        column,
        f"timestamp more than {days} day{'s' if days != 1 else ''} before the partition day "
        "(beyond the warehouse's look-back)",
    )


def _convert(
    col: Column,
    text: pd.Series,
    flag,
    day_end: pd.Timestamp,
    slack: timedelta,
    naive_timestamps: dict[str, tuple[int, int]],
    rows: pd.Series,
) -> pd.Series:
    present = text.notna()
    if col.type in ("text", "email", "phone", "timezone", "url", "currency"):
        if col.type == "email" or col.lowercase:
            text = text.where(~present, text.str.lower())
        if col.type == "currency":
            # ASCII only: Python upper-cases `ß` to `SS`, which would pass for a code
            text = text.where(~(present & text.fillna("").str.isascii()), text.str.upper())
        if col.allowed:
            text = text.where(~present, named_value(text, col.allowed))
        if col.type == "email":
            flag(present & ~text.fillna("").str.match(VALID_ADDRESS), col.name, "not a valid email address")
        if col.type == "phone":
            flag(present & ~text.fillna("").str.match(VALID_NUMBER), col.name, "not an E.164 phone number")
        if col.type == "timezone":
            flag(present & ~text.isin(known_timezones()), col.name, "not a known IANA timezone")
        if col.type == "url":
            flag(present & ~text.fillna("").str.match(VALID_URL), col.name, "not an http or https URL")
        if col.type == "currency":
            flag(
                present & ~text.fillna("").str.match(VALID_CURRENCY),
                col.name,
                "not an ISO 4217 currency code",
            )
        return text
    if col.type in ("timestamp", "unix_timestamp"):
        if col.type == "unix_timestamp":
            seconds = pd.to_numeric(text, errors="coerce")
            seconds = seconds.where(seconds.abs() < MAX_UNIX_SECONDS)
            values = pd.to_datetime(seconds, unit="s", utc=True, errors="coerce")
            flag(present & values.isna(), col.name, "not a Unix timestamp in seconds")
        else:
            values = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
            flag(present & values.isna(), col.name, "not a timestamp (expected ISO-8601 with offset)")
            naive = present & values.notna() & ~text.fillna("").str.contains(HAS_OFFSET)
            if naive.any():
                naive_timestamps[col.name] = (int(naive.sum()), int(rows[naive].iloc[0]))
        flag(values < EARLIEST, col.name, "timestamp before 2000-01-01")
        if slack:
            why = f"timestamp in the future (more than {slack.days} day after the partition day)"
        else:
            why = "timestamp after the end of the partition day"
        flag(values >= day_end + slack, col.name, why)
        return values
    if col.type == "boolean":
        lowered = text.str.lower()
        values = pd.Series(
            np.where(lowered.isin(TRUE_WORDS), True, np.where(lowered.isin(FALSE_WORDS), False, None)),
            index=text.index,
            dtype=object,
        )
        flag(present & values.isna(), col.name, "not a boolean (true/false)")
        return values
    if col.type == "double":
        values = pd.to_numeric(text, errors="coerce")
        flag(present & values.isna(), col.name, "not a number")
        flag(
            present & values.notna() & ~np.isfinite(values.astype("float64")), col.name, "not a finite number"
        )
        if col.min_value is not None:
            flag(values < col.min_value, col.name, f"below the allowed minimum {col.min_value:g}")
        if col.max_value is not None:
            flag(values > col.max_value, col.name, f"above the allowed maximum {col.max_value:g}")
        return values.astype("float64")
    if col.type == "date":
        values = pd.to_datetime(text, errors="coerce", format=DATE_FORMAT)
        flag(present & values.isna(), col.name, f"not a date (expected {DATE_FORMAT_SHOWN})")
        return values.dt.date
    raise ValueError(f"unknown column type {col.type}")


def named_value(text: pd.Series, allowed: tuple[str, ...]) -> pd.Series:
    """Each value that names one of `allowed` but for case and separators (`Group-Unsubscribe`,
    `spam report`) as that value; any other value as it was, for the allowed-values rule to refuse.

    Exporters and spreadsheets rewrite separators and case; the meaning stays unambiguous, and a
    suppression event refused for its spelling would leave an unsubscribed address mailable.
    """
    names = {name_key(name): name for name in allowed}
    if len(names) < len(allowed):
        raise ValueError(f"allowed values {allowed} are not told apart without their separators")
    return text.map(lambda value: names.get(name_key(value), value) if isinstance(value, str) else value)


def _row_rules(contract: Contract, typed: dict[str, pd.Series], flag) -> None:
    for col in contract.columns:
        if col.allowed:
            values = typed[col.name]
            flag(values.notna() & ~values.isin(col.allowed), col.name, f"not {col.allowed_name}")
    if contract.at_least_one_of:
        names = contract.at_least_one_of
        empty = pd.concat([typed[name].isna() for name in names], axis=1).all(axis=1)
        flag(empty, names[0], f"{_all_of(names)} are empty")


def _all_of(names: tuple[str, ...]) -> str:
    return f"both {names[0]} and {names[1]}" if len(names) == 2 else "all of " + ", ".join(names)


# Each type as the generated contract docs name it (reengage/contract_doc.py).
TYPE_NAMES: dict[ColumnType, str] = {
    "text": "text",
    "email": "email address",
    "phone": "phone number",
    "timezone": "time zone",
    "url": "web address",
    "currency": "currency code",
    "timestamp": "timestamp",
    "unix_timestamp": "Unix timestamp",
    "boolean": "boolean",
    "double": "number",
    "date": "date",
}


def type_format(column_type: ColumnType) -> str:
    """What a value of `column_type` must look like, in words and samples: what `_convert` accepts."""
    samples = ", ".join(f"`{v}`" for v in ACCEPTED_SAMPLES[column_type])
    if column_type == "text":
        return "any text"
    if column_type == "email":
        return f"an address matching `{VALID_ADDRESS}` ({samples}); lower-cased"
    if column_type == "phone":
        return (
            f"an E.164 number matching `{VALID_NUMBER}` ({samples}): a plus, the country code and the "
            "number, digits only; never completed or repaired"
        )
    if column_type == "url":
        return (
            f"an http or https URL matching `{VALID_URL}` ({samples}): a host, no spaces, non-ASCII "
            "characters percent-encoded; never completed or repaired"
        )
    if column_type == "currency":
        return f"an ISO 4217 code of three letters ({samples}); upper-cased"
    if column_type == "timezone":
        return f"a time-zone name the IANA tz database knows ({samples}), not an offset such as `+02:00`"
    if column_type == "timestamp":
        return (
            f"ISO-8601 ({samples}); a value without a UTC offset or `Z` is read as UTC, with a warning "
            "naming the column"
        )
    if column_type == "unix_timestamp":
        return (
            f"seconds since 1970-01-01 UTC ({samples}); {MAX_UNIX_SECONDS:,.0f} or more is not seconds "
            "(milliseconds?) and is refused"
        )
    if column_type == "boolean":
        true, false = (", ".join(f"`{w}`" for w in words) for words in (TRUE_WORDS, FALSE_WORDS))
        return f"{true} for true, {false} for false, in any case"
    if column_type == "double":
        return f"a finite number ({samples})"
    if column_type == "date":
        return f"`{DATE_FORMAT_SHOWN}` ({samples})"
    raise ValueError(f"unknown column type {column_type}")


def column_rules(col: Column, contract: Contract) -> list[str]:
    """The checks on `col` beyond its type and presence, as `_convert` and `_row_rules` apply them."""
    rules = []
    if col.allowed:
        rules.append("one of " + ", ".join(f"`{v}`" for v in col.allowed))
        rules.append(
            "read in any case and with any spaces, hyphens, underscores or dots (`Group-Unsubscribe`)"
        )
    elif col.lowercase:
        rules.append("lower-cased")
    if col.min_value is not None and col.max_value is not None:
        rules.append(f"from {_number(col.min_value)} to {_number(col.max_value)}")
    if col.type in ("timestamp", "unix_timestamp"):
        slack = FUTURE_SLACK.get(col.name, FUTURE_SLACK["default"])
        end = "the end of the file's day" + (f" plus {slack.days} day" if slack else "")
        rules.append(f"from {EARLIEST:%Y-%m-%d} to {end}")
    if col.name == contract.late_column:
        days = warehouse_lookback_days()
        rules.append(f"not more than {days} days before the file's day (dbt var `lookback_days`)")
    return rules


def _number(value: float) -> str:
    return f"{int(value):,}" if value == int(value) else f"{value:,}"


def _duplicates(contract: Contract, frame: pd.DataFrame, typed: dict[str, pd.Series], reason, flag) -> None:
    """Rows sharing the unique key among the otherwise good rows of one file (see Contract)."""
    key_name = contract.unique_key
    key = typed[key_name].where(reason.isna())
    candidates = key.notna() & key.duplicated(keep=False)
    if not candidates.any():
        return
    rows = frame["_source_row"]
    # A record's identity for "same values": its contract columns as text (NaN/None alike).
    record = pd.Series(
        [
            json.dumps(r, default=str)
            for r in pd.DataFrame({n: typed[n] for n in contract.names})[candidates].to_dict(orient="records")
        ],
        index=key.index[candidates],
    )
    work = pd.DataFrame({"key": key[candidates], "record": record, "row": rows[candidates]})
    if contract.latest_by:
        stamp = typed[contract.latest_by][candidates]
        latest = stamp.groupby(work["key"]).transform("max")
        winner_row = work["row"].where(stamp == latest).groupby(work["key"]).transform("min")
        superseded = stamp < latest
        flag(
            superseded.reindex(key.index, fill_value=False),
            key_name,
            f"superseded by a later {contract.latest_by} for the same {key_name} in this file",
            (" (row " + winner_row.astype("int64").astype(str) + ")").reindex(key.index),
        )
        work = work[~superseded]
    first_row = work["row"].groupby(work["key"]).transform("min")
    same = work["record"] == work.groupby("key")["record"].transform("first")
    conflicting_keys = set(work.loc[~same, "key"])
    conflict = work["key"].isin(conflicting_keys)
    if contract.latest_by:
        rows_text = work.groupby("key")["row"].transform(lambda r: ", ".join(str(int(x)) for x in r))
        flag(
            conflict.reindex(key.index, fill_value=False),
            key_name,
            f"conflicting values for the same {key_name} and {contract.latest_by} in this file",
            (" (rows " + rows_text + ")").reindex(key.index),
        )
        later = ~conflict & (work["row"] != first_row)
    else:
        flag(
            (conflict & (work["row"] != first_row) & ~same).reindex(key.index, fill_value=False),
            key_name,
            f"duplicate {key_name} with different values in this file",
            (" (first at row " + first_row.astype("int64").astype(str) + ")").reindex(key.index),
        )
        later = work["row"] != first_row
    flag(
        later.reindex(key.index, fill_value=False),
        key_name,
        f"duplicate {key_name} in this file",
        (" (same values as row " + first_row.astype("int64").astype(str) + ")").reindex(key.index),
    )


def _quarantine_rows(
    bad: pd.DataFrame,
    contract: Contract,
    reason: pd.Series,
    kind: pd.Series,
    column: pd.Series,
    row_kept: bool = False,
) -> pd.DataFrame:
    """Bad rows, or rows kept with a value set to null, as the person fixing the export needs them
    (kept in the warehouse, never logged)."""
    shown = [c for c in contract.names if c in bad.columns]
    records = [json.dumps(row, default=str) for row in bad[shown].to_dict(orient="records")]
    raw = bad["_raw_record"]
    records = [r if isinstance(r, str) else rec for r, rec in zip(raw, records, strict=True)]
    return pd.DataFrame(
        {
            "row": bad["_source_row"].astype("int64").to_numpy(),
            "column": column.to_numpy(),
            "reason": reason.to_numpy(),
            "raw_record": records,
            "row_kept": np.full(len(bad), row_kept),
            "kind": kind.to_numpy(),
        }
    )
