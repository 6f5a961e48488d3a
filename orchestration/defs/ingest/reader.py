"""Find and read one day's export file, whatever its format, as text columns.

Everything is read as text first so that a bad value becomes a quarantined row
with its row and column, never a whole-file type error. Problems that belong to
one row (a short or long CSV row, a broken JSON line, bytes that are not UTF-8)
are kept on that row in `_read_error` / `_read_column` for the parser to
quarantine; only problems with the file as a whole (no header, wrong delimiter,
a Parquet file that cannot be opened, two files for one day) raise `IngestError`.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from datetime import date

import fsspec
import pandas as pd
import pyarrow.parquet as pq

FORMATS = ("csv", "jsonl", "parquet")
# Columns the reader adds next to the file's own: lineage and row-level read problems.
READ_COLUMNS = ("_source_row", "_source_line", "_read_error", "_read_column", "_raw_record")
# Bytes that are not UTF-8 are decoded with surrogateescape: each becomes one of these code points.
NOT_UTF8 = re.compile("[\udc80-\udcff]")


class IngestError(Exception):
    """A whole file cannot be loaded; the message names the file (and row/column when known)."""


@dataclass
class LandingListing:
    """One source's landing folder, by file date, as far as one day's load cares."""

    day_files: list[str] = field(default_factory=list)  # files for the day itself
    later_files: list[str] = field(default_factory=list)  # files dated after the day: never loaded with it
    misnamed: list[str] = field(default_factory=list)  # names that are not `{source}_{YYYY-MM-DD}.{ext}`


def list_landing(landing: str, source: str, day: date) -> LandingListing:
    """Classify `source`'s landing files against `day` (missing folder = no files)."""
    fs, root = fsspec.core.url_to_fs(landing)
    folder = f"{root.rstrip('/')}/{source}"
    protocol = landing.split("://", 1)[0] + "://" if "://" in landing else ""
    listing = LandingListing()
    try:
        names = sorted(p.rsplit("/", 1)[-1] for p in fs.ls(folder, detail=False))
    except FileNotFoundError:
        return listing
    pattern = re.compile(rf"{re.escape(source)}_(\d{{4}}-\d{{2}}-\d{{2}})\.({'|'.join(FORMATS)})")
    for name in names:
        match = pattern.fullmatch(name)
        file_day = _parse_day(match.group(1)) if match else None
        if file_day is None:
            if not name.startswith("."):
                listing.misnamed.append(name)
        elif file_day == day:
            listing.day_files.append(f"{protocol}{folder}/{name}")
        elif file_day > day:
            listing.later_files.append(name)
    return listing


def _parse_day(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def find_export(landing: str, source: str, day: date) -> str | None:
    """The path of `source`'s file for `day`, or None; two files for one day is an error."""
    return only_export(list_landing(landing, source, day), source, day)


def only_export(listing: LandingListing, source: str, day: date) -> str | None:
    found = listing.day_files
    if len(found) > 1:
        names = ", ".join(p.rsplit("/", 1)[-1] for p in found)
        raise IngestError(
            f"{source} for {day}: more than one export ({names}) in {found[0].rsplit('/', 1)[0]}; "
            "keep one and load again"
        )
    return found[0] if found else None


@dataclass
class ReadExport:
    frame: pd.DataFrame
    warnings: list[str]


def read_export(path: str) -> pd.DataFrame:
    """Read a CSV, JSON Lines or Parquet export into a frame of text (or None) columns.

    The frame has `_source_row` (the 1-based data row: CSV's header is row 0, a JSON Lines
    row is its line), `_source_line` (CSV only, and only where a quoted line break makes the
    line differ from `_source_row + 1`), and `_read_error` / `_read_column` / `_raw_record`
    for rows that could not be read as a record.
    """
    return read_export_with_warnings(path).frame


def read_export_with_warnings(path: str) -> ReadExport:
    with fsspec.open(path, "rb") as handle:
        raw = handle.read()
    ext = path.rsplit(".", 1)[-1].lower()
    warnings: list[str] = []
    if ext == "parquet":
        frame = _read_parquet(path, raw)
    else:
        text = _decode(path, raw, warnings)
        frame = _read_csv(path, text) if ext == "csv" else _read_jsonl(path, text)
        # Only a file that failed strict decoding can hold escaped bytes: the parser looks only then.
        frame.attrs["not_utf8"] = bool(warnings)
    for name in READ_COLUMNS:
        if name not in frame.columns:
            frame[name] = None
    return ReadExport(frame=frame, warnings=warnings)


def _decode(path: str, raw: bytes, warnings: list[str]) -> str:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise IngestError(
            f"{path}: the file is UTF-16 (it starts with a UTF-16 byte-order mark); export it as UTF-8"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        warnings.append(
            f"{path}: line {line}: not UTF-8 (byte {raw[err.start]:#04x} at offset {err.start}); "
            "rows with such bytes are quarantined"
        )
        text = raw.decode("utf-8", errors="surrogateescape")
    return text.removeprefix("\ufeff")


def _read_csv(path: str, text: str) -> pd.DataFrame:
    if not text.strip():
        raise IngestError(f"{path}: the file is empty (no header row)")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [name.strip() for name in next(reader)]
    except csv.Error as err:
        raise IngestError(f"{path}: line 1: the header is not valid CSV ({err})") from err
    header_line = ",".join(header)
    if NOT_UTF8.search(header_line):
        raise IngestError(f"{path}: line 1: the header is not UTF-8")
    if len(header) == 1:
        for sep, name in ((";", "semicolon"), ("\t", "tab"), ("|", "pipe")):
            if sep in header[0]:
                raise IngestError(
                    f"{path}: line 1: the header is {name}-separated, not comma-separated "
                    f"({header[0][:80]!r})"
                )
    twice = sorted({name for name in header if header.count(name) > 1})
    if twice:
        raise IngestError(f"{path}: header: column {twice[0]!r} appears more than once")
    width = len(header)
    rows: list[list[str | None]] = []
    lines: list[int | None] = []
    errors: list[tuple[int, str, str | None, str]] = []  # (index, reason, column, raw json)
    previous_line = reader.line_num
    ends_with_break = text.endswith(("\n", "\r"))
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as err:
            index = len(rows)
            rows.append([None] * width)
            lines.append(previous_line + 1)
            if "unexpected end of data" in str(err):
                reason = "truncated: a quoted field is not closed before the end of the file"
            else:
                reason = f"malformed CSV ({err})"
            errors.append((index, reason, None, json.dumps({"_line": previous_line + 1})))
            previous_line = reader.line_num
            continue
        start = previous_line + 1
        previous_line = reader.line_num
        if not fields or (len(fields) == 1 and not fields[0].strip()):
            continue  # a blank line is not a row
        index = len(rows)
        lines.append(start)
        if len(fields) == width:
            rows.append([f if f != "" else None for f in fields])
            continue
        values = (fields + [""] * width)[:width]
        rows.append([f if f != "" else None for f in values])
        raw_record = json.dumps(dict(zip(header, fields, strict=False)) | {"_fields": len(fields)})
        if len(fields) < width:
            reason = f"row has {len(fields)} of {width} fields (missing delimiters?)"
            errors.append((index, reason, header[len(fields)], raw_record))
        else:
            reason = f"row has {len(fields)} fields, the header has {width} (an unquoted comma?)"
            errors.append((index, reason, None, raw_record))

    if (
        errors
        and errors[-1][0] == len(rows) - 1
        and not ends_with_break
        and errors[-1][1].startswith("row has")
    ):
        index, _, column, raw_record = errors[-1]
        fields = json.loads(raw_record)["_fields"]
        errors[-1] = (
            index,
            f"truncated: the file ends mid-row ({fields} of {width} fields)",
            column,
            raw_record,
        )
    frame = pd.DataFrame(rows, columns=header, dtype=object)
    frame.insert(0, "_source_row", range(1, len(frame) + 1))
    # The header is line 1, so data row r starts on line r + 1 unless a quoted line break moved it.
    frame["_source_line"] = [
        line if line is not None and line != row + 1 else None
        for row, line in zip(frame["_source_row"], lines, strict=True)
    ]
    _attach_errors(frame, errors)
    return frame


def _attach_errors(frame: pd.DataFrame, errors: list[tuple[int, str, str | None, str]]) -> None:
    frame["_read_error"] = None
    frame["_read_column"] = None
    frame["_raw_record"] = None
    for index, reason, column, raw_record in errors:
        frame.at[index, "_read_error"] = reason
        frame.at[index, "_read_column"] = column
        frame.at[index, "_raw_record"] = raw_record


def _read_jsonl(path: str, text: str) -> pd.DataFrame:
    records: list[dict] = []
    numbers: list[int] = []
    errors: list[tuple[int, str, str | None, str]] = []
    # Split on line feeds only: a JSON string may hold U+2028 and other breaks splitlines() honours.
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    if lines and lines[-1] == "":
        lines.pop()
    ends_with_break = text.endswith(("\n", "\r"))
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        problem = None
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            truncated = number == len(lines) and not ends_with_break
            problem = (
                "truncated: the file ends mid-record (not valid JSON)"
                if truncated
                else f"not valid JSON ({err.msg} at character {err.pos + 1})"
            )
            record = {}
        if problem is None and not isinstance(record, dict):
            problem, record = f"not a JSON object (a JSON {type(record).__name__})", {}
        if problem:
            errors.append((len(records), problem, None, json.dumps({"_line_text": line[:2000]})))
        records.append(record)
        numbers.append(number)
    frame = pd.DataFrame.from_records(records) if records else pd.DataFrame()
    frame = frame.astype(object).where(frame.notna(), None).map(_as_text) if len(frame.columns) else frame
    frame = frame.reindex(range(len(records)))
    frame.insert(0, "_source_row", numbers)
    _attach_errors(frame, errors)
    return frame


def _read_parquet(path: str, raw: bytes) -> pd.DataFrame:
    if len(raw) < 12 or not raw.startswith(b"PAR1") or not raw.endswith(b"PAR1"):
        where = "start" if not raw.startswith(b"PAR1") else "end"
        raise IngestError(
            f"{path}: not a readable Parquet file (no PAR1 marker at the {where} of its "
            f"{len(raw):,} bytes: truncated or not Parquet)"
        )
    try:
        table = pq.read_table(io.BytesIO(raw))
    except Exception as err:  # pyarrow raises several types for a damaged file
        first = str(err).splitlines()[0][:200] if str(err) else type(err).__name__
        raise IngestError(f"{path}: not a readable Parquet file ({first})") from err
    frame = table.to_pandas()
    for name in frame.columns:
        if pd.api.types.is_datetime64_any_dtype(frame[name]):
            series = frame[name]
            if series.dt.tz is None:
                series = series.dt.tz_localize("UTC")
            frame[name] = series.dt.strftime("%Y-%m-%dT%H:%M:%S.%f%z").where(series.notna(), None)
    frame = frame.astype(object).where(frame.notna(), None).map(_as_text)
    frame.columns = [str(c).strip() for c in frame.columns]
    frame.insert(0, "_source_row", range(1, len(frame) + 1))
    return frame


def _as_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)
