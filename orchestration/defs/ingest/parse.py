"""Turn a frame of text columns into typed good rows and quarantined bad rows.

Every check is vectorised over the whole file; each bad row keeps the first
reason found, with the column it was found in, so a person can fix the export.
"""

from __future__ import annotations

import difflib
import json
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache

import numpy as np
import pandas as pd

from orchestration.defs.ingest.contracts import EMAIL_EVENT_TYPES, Column, Contract
from orchestration.defs.ingest.reader import IngestError

EMAIL_PATTERN = r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$"
EARLIEST = pd.Timestamp("2000-01-01", tz="UTC")
# Clocks drift and exports are cut late: allow a day past the partition before calling it "future".
FUTURE_SLACK = timedelta(days=1)
TRUE_WORDS = {"true", "t", "1", "yes", "y"}
FALSE_WORDS = {"false", "f", "0", "no", "n"}


@dataclass
class ParsedExport:
    good: pd.DataFrame  # typed columns of the contract + _source_row
    quarantine: pd.DataFrame  # row, column, reason, raw_record
    warnings: list[str]


@cache
def known_timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def parse_export(frame: pd.DataFrame, contract: Contract, path: str, day: date) -> ParsedExport:
    """Check `frame` (as read) against `contract` for partition `day`."""
    frame = _conform_columns(frame, contract, path)
    warnings = _extra_column_warnings(frame, contract, path)
    n = len(frame)
    reason = pd.Series([None] * n, index=frame.index, dtype=object)
    column = pd.Series([None] * n, index=frame.index, dtype=object)

    def flag(mask: pd.Series, col: str, why: str) -> None:
        fresh = mask.fillna(False).astype(bool) & reason.isna()
        reason[fresh] = why
        column[fresh] = col

    latest = pd.Timestamp(datetime.combine(day, datetime.min.time(), tzinfo=UTC)) + timedelta(days=1)
    typed: dict[str, pd.Series] = {}
    for col in contract.columns:
        text = frame[col.name].astype(object).where(frame[col.name].notna(), None)
        text = text.map(lambda v: v.strip() if isinstance(v, str) else v).replace({"": None})
        if col.required:
            flag(text.isna(), col.name, "required value is empty")
        typed[col.name] = _convert(col, text, flag, latest + FUTURE_SLACK)

    _row_rules(contract, typed, flag)
    if contract.unique_key:
        key = typed[contract.unique_key]
        flag(
            key.notna() & reason.isna() & key.where(reason.isna()).duplicated(keep="first"),
            contract.unique_key,
            f"duplicate {contract.unique_key} in this file",
        )

    good_mask = reason.isna()
    good = pd.DataFrame({name: series[good_mask] for name, series in typed.items()})
    good.insert(0, "_source_row", frame.loc[good_mask, "_source_row"].astype("int64"))
    quarantine = _quarantine_rows(frame[~good_mask], contract, reason[~good_mask], column[~good_mask])
    return ParsedExport(good=good.reset_index(drop=True), quarantine=quarantine, warnings=warnings)


def _conform_columns(frame: pd.DataFrame, contract: Contract, path: str) -> pd.DataFrame:
    present = set(frame.columns)
    if frame.empty and present <= {"_source_row"}:
        # An empty JSON Lines file has no header to check: it is simply a day with no rows.
        return frame.assign(**dict.fromkeys(contract.names))
    for name in contract.names:
        if name in present:
            continue
        if name in contract.optional_columns:
            frame[name] = None
            continue
        extras = sorted(present - set(contract.names) - {"_source_row"})
        close = difflib.get_close_matches(name, extras, n=1, cutoff=0.6)
        hint = f" (found {close[0]!r}: renamed?)" if close else ""
        raise IngestError(f"{path}: header: required column {name!r} is missing{hint}")
    return frame


def _extra_column_warnings(frame: pd.DataFrame, contract: Contract, path: str) -> list[str]:
    extras = sorted(set(frame.columns) - set(contract.names) - {"_source_row"})
    return [f"{path}: header: column {name!r} is not in the contract and was ignored" for name in extras]


def _convert(col: Column, text: pd.Series, flag, latest: pd.Timestamp) -> pd.Series:
    present = text.notna()
    if col.type in ("text", "email", "timezone"):
        if col.type == "email":
            text = text.where(~present, text.str.lower())
            flag(present & ~text.fillna("").str.match(EMAIL_PATTERN), col.name, "not a valid email address")
        if col.type == "timezone":
            flag(present & ~text.isin(known_timezones()), col.name, "not a known IANA timezone")
        return text
    if col.type in ("timestamp", "unix_timestamp"):
        if col.type == "unix_timestamp":
            seconds = pd.to_numeric(text, errors="coerce")
            values = pd.to_datetime(seconds, unit="s", utc=True, errors="coerce")
        else:
            values = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
        flag(present & values.isna(), col.name, "not a timestamp (expected ISO-8601 with offset)")
        flag(values < EARLIEST, col.name, "timestamp before 2000-01-01")
        flag(values > latest, col.name, "timestamp in the future for this partition")
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
        if col.min_value is not None:
            flag(values < col.min_value, col.name, f"below the allowed minimum {col.min_value:g}")
        if col.max_value is not None:
            flag(values > col.max_value, col.name, f"above the allowed maximum {col.max_value:g}")
        return values.astype("float64")
    if col.type == "date":
        values = pd.to_datetime(text, errors="coerce", format="%Y-%m-%d")
        flag(present & values.isna(), col.name, "not a date (expected YYYY-MM-DD)")
        return values.dt.date
    raise ValueError(f"unknown column type {col.type}")


def _row_rules(contract: Contract, typed: dict[str, pd.Series], flag) -> None:
    if contract.source == "events":
        flag(
            typed["user_id"].isna() & typed["anonymous_id"].isna(),
            "user_id",
            "both user_id and anonymous_id are empty",
        )
    if contract.source == "email_events":
        event = typed["event"]
        flag(event.notna() & ~event.isin(EMAIL_EVENT_TYPES), "event", "not a SendGrid event type")


def _quarantine_rows(
    bad: pd.DataFrame, contract: Contract, reason: pd.Series, column: pd.Series
) -> pd.DataFrame:
    """Bad rows as the person fixing the export needs them (kept in the warehouse, never logged)."""
    shown = [c for c in contract.names if c in bad.columns]
    records = [json.dumps(row, default=str) for row in bad[shown].to_dict(orient="records")]
    return pd.DataFrame(
        {
            "row": bad["_source_row"].astype("int64").to_numpy(),
            "column": column.to_numpy(),
            "reason": reason.to_numpy(),
            "raw_record": records,
        }
    )
