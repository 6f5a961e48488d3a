"""Find one day's export file and read it, whatever its format, as chunks of text columns.

CSV, JSON Lines and Parquet; and, for a folder that declares Snowplow's enriched events
(formats/declaration.py), tab-separated lines without a header in the format's column order.

Everything is read as text first so that a bad value becomes a quarantined row with its
row and column, never a whole-file type error. Problems that belong to one row (a short
or long CSV row, a broken JSON line, a line too long to read) are kept on that row in
`_read_error` / `_read_column` for the parser to quarantine; only problems with the file
as a whole (no header, wrong delimiter, a Parquet file that cannot be opened, two files
for one day, a link out of the landing folder, a directory) raise `IngestError`.

A file is streamed: it is never held whole in memory, as bytes or as text. Its rows come
in chunks of at most `CHUNK_ROWS` rows (or `CHUNK_CHARS` characters of CSV / JSON Lines),
a line longer than `MAX_ROW_CHARS` is skipped without being kept (its row is quarantined),
and only the columns the caller keeps are built. Bytes that are not UTF-8 are decoded
with surrogateescape (each becomes one code point of `NOT_UTF8`); the first one is named
in a warning and the parser quarantines the rows holding any.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
import re
import stat
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import BinaryIO, TextIO

import fsspec
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from fsspec.implementations.local import LocalFileSystem

from reengage import settings
from reengage.defs.ingest.names import column_label, file_label, looks_like_identifier, scrubbed

FORMATS = ("csv", "jsonl", "parquet", "tsv")  # tsv: only for a declared format with fixed columns
# A source folder's declaration of the export format it holds (formats/declaration.py); not an export.
DECLARATION_FILE = "format.yml"
# Columns the reader adds next to the file's own: lineage and row-level read problems.
READ_COLUMNS = ("_source_row", "_source_line", "_read_error", "_read_column", "_raw_record")
# Bytes that are not UTF-8 are decoded with surrogateescape: each becomes one of these code points.
NOT_UTF8 = re.compile("[\udc80-\udcff]")
# A CSV record or JSON line longer than this is not read (its row is quarantined): far above any
# real row, far below what would strain memory (a 1 GB line is skipped, never held).
MAX_ROW_CHARS = 8 * 1024 * 1024
OVERLONG = f"row longer than {MAX_ROW_CHARS:,} characters (not read)"
# Rows per chunk, and characters of text per chunk for wide rows: a chunk and its parse stay
# within a few hundred MB whatever the file's size.
CHUNK_ROWS = 100_000
CHUNK_CHARS = 32 * 1024 * 1024
READ_BUFFER_BYTES = 1024 * 1024
# The frame attributes a chunk carries for the parser (so it looks for a problem only where it can be).
NOT_UTF8_ATTR, NUL_ATTR, NESTED_ATTR = "not_utf8", "has_nul", "nested_columns"


class IngestError(Exception):
    """A whole file cannot be loaded; the message names the file (and row/column when known)."""


class NestedValue(str):
    """A JSON object or array (JSON Lines), or a list, struct or map (Parquet), as JSON text.

    Kept apart from plain text so the parser can refuse it in a column that holds one value.
    """


@dataclass
class LandingListing:
    """One source's landing folder, by file date, as far as one day's load cares."""

    day_files: list[str] = field(default_factory=list)  # files for the day itself
    later_files: list[str] = field(default_factory=list)  # files dated after the day: never loaded with it
    misnamed: list[str] = field(default_factory=list)  # names not `{source}_{YYYY-MM-DD}.{ext}` (as shown)


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
    pattern = export_name_pattern(source)
    for name in names:
        match = pattern.fullmatch(name)
        file_day = _parse_day(match.group(1)) if match else None
        if file_day is None:
            if not name.startswith(".") and name != DECLARATION_FILE:
                listing.misnamed.append(file_label(name))
        elif file_day == day:
            listing.day_files.append(f"{protocol}{folder}/{name}")
        elif file_day > day:
            listing.later_files.append(name)
    return listing


def export_name_pattern(source: str) -> re.Pattern[str]:
    """An export's file name: `{source}_{YYYY-MM-DD}.{format}`, the day as the first group."""
    return re.compile(rf"{re.escape(source)}_(\d{{4}}-\d{{2}}-\d{{2}})\.({'|'.join(FORMATS)})")


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


# --- Opening: only a regular file inside the landing folder --------------------------------


@contextmanager
def open_export(
    landing: str, path: str, keep: Sequence[str], tsv_columns: Sequence[str] = ()
) -> Iterator[Export]:
    """The export at `path` (found in `landing` by `list_landing`), ready to be read in chunks.

    Only the columns named in `keep` are built. On a local filesystem the file must resolve to
    a regular file inside the landing folder (a symbolic link that leaves it is refused unless
    REENGAGE_LANDING_FOLLOW_OUTSIDE_LINKS allows it); elsewhere it must be a file, not a folder.
    A `.tsv` file has no header: it is read only with the column order `tsv_columns` of the
    source's declared format (Snowplow's enriched events).
    """
    extension = path.rsplit(".", 1)[-1].lower()
    if extension == "tsv" and not tsv_columns:
        raise IngestError(
            f"{path}: a .tsv export is read only as Snowplow enriched events (declare `format: snowplow` "
            f"in its folder's {DECLARATION_FILE}); export CSV, JSON Lines or Parquet otherwise"
        )
    handle, local_file = _open_checked(landing, path)
    try:
        if extension == "tsv":
            export: Export = EnrichedTsvExport(path, handle, keep, tsv_columns)
        else:
            kind = {"csv": CsvExport, "jsonl": JsonLinesExport, "parquet": ParquetExport}
            export = kind[extension](path, handle, keep)
        export.local_file = local_file
        yield export
    finally:
        handle.close()


def _open_checked(landing: str, path: str) -> tuple[BinaryIO, str | None]:
    """The open file, and its resolved path when it is on the local filesystem."""
    fs, root = fsspec.core.url_to_fs(landing)
    file_path = fsspec.core.url_to_fs(path)[1]
    if isinstance(fs, LocalFileSystem):
        return _open_local(root, file_path, path)
    # Object stores have no links to follow; what is listed there is read as listed.
    try:
        info = fs.info(file_path)
    except FileNotFoundError:
        raise IngestError(f"{path}: the file disappeared before it could be read") from None
    if info.get("type") != "file":
        raise IngestError(f"{path}: a directory, not an export file; not read")
    return fs.open(file_path, "rb"), None


def _open_local(root: str, file_path: str, shown: str) -> tuple[BinaryIO, str]:
    try:
        st = os.stat(file_path)  # through any link
    except FileNotFoundError:
        if os.path.islink(file_path):
            raise IngestError(f"{shown}: a symbolic link whose target does not exist; not read") from None
        raise IngestError(f"{shown}: the file disappeared before it could be read") from None
    except OSError as err:  # a link loop, a permission problem on the way
        raise IngestError(f"{shown}: cannot be opened ({err.strerror})") from None
    real = os.path.realpath(file_path)
    real_root = os.path.realpath(root)
    if os.path.commonpath([real, real_root]) != real_root and not settings.landing_follows_outside_links():
        raise IngestError(
            f"{shown}: a symbolic link to a file outside the landing folder {root}; not read "
            f"(set {settings.LANDING_FOLLOW_OUTSIDE_LINKS}=true to allow links that leave it)"
        )
    if stat.S_ISDIR(st.st_mode):
        raise IngestError(f"{shown}: a directory, not an export file; not read")
    if not stat.S_ISREG(st.st_mode):
        raise IngestError(f"{shown}: not a regular file (a device, pipe or socket); not read")
    try:
        # The resolved path, not following a link swapped in since the check, and never waiting on a pipe.
        fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as err:
        raise IngestError(f"{shown}: cannot be opened ({err.strerror})") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise IngestError(f"{shown}: not a regular file; not read")
    return os.fdopen(fd, "rb", buffering=READ_BUFFER_BYTES), real


# --- Reading --------------------------------------------------------------------------------


class Export:
    """An open export: its column names and its rows, chunk by chunk (one pass)."""

    path: str
    warnings: list[str]
    # The resolved path of a local file (checked by open_export), for readers that open it by name.
    local_file: str | None = None

    @property
    def columns(self) -> list[str] | None:
        """The file's own column names in file order; for JSON Lines known only once it was read."""
        raise NotImplementedError

    def chunks(self) -> Iterator[pd.DataFrame]:
        """Frames of text (or None) columns: the kept columns the file has, plus READ_COLUMNS.

        `_source_row` is the 1-based data row (CSV's header is row 0, a JSON Lines row is its
        line); `_source_line` is set only where a quoted line break moved a CSV row off line
        row + 1. There is at least one frame, empty for a file without rows.
        """
        raise NotImplementedError


class _ByteWatch(io.RawIOBase):
    """Passes a binary file through, noting its first byte that is not UTF-8 and any NUL byte."""

    def __init__(self, inner: BinaryIO) -> None:
        self._inner = inner
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._offset = 0
        self._newlines = 0
        self.first_bad: tuple[int, int, int] | None = None  # (line, byte, offset)
        self.saw_nul = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        data = self._inner.read(len(buffer))
        size = len(data)
        buffer[:size] = data
        self.saw_nul = self.saw_nul or b"\x00" in data
        if self.first_bad is None:
            try:
                self._decoder.decode(data, final=size == 0)
            except UnicodeDecodeError as err:
                held = len(err.object) - size  # bytes of a character begun in the previous read
                line = self._newlines + err.object[: err.start].count(b"\n") + 1
                self.first_bad = (line, err.object[err.start], self._offset - held + err.start)
            self._newlines += data.count(b"\n")
        self._offset += size
        return size


class _TextExport(Export):
    """CSV and JSON Lines: decoded as a stream, noting the file's first byte that is not UTF-8."""

    newline = ""

    def __init__(self, path: str, handle: BinaryIO, keep: Sequence[str]) -> None:
        self.path = path
        self._keep = list(keep)
        self.warnings = []
        if handle.read(2) in (b"\xff\xfe", b"\xfe\xff"):
            raise IngestError(
                f"{path}: the file is UTF-16 (it starts with a UTF-16 byte-order mark); export it as UTF-8"
            )
        handle.seek(0)
        self._watch = _ByteWatch(handle)
        buffered = io.BufferedReader(self._watch, buffer_size=READ_BUFFER_BYTES)
        self._text = io.TextIOWrapper(
            buffered, encoding="utf-8-sig", errors="surrogateescape", newline=self.newline
        )

    def _frame(self, chunk: _Rows) -> pd.DataFrame:
        first_bad = self._watch.first_bad
        if first_bad and not self.warnings:
            line, byte, offset = first_bad
            self.warnings.append(
                f"{self.path}: line {line}: not UTF-8 (byte {byte:#04x} at offset {offset}); "
                "rows with such bytes are quarantined"
            )
        return chunk.frame(not_utf8=first_bad is not None)


class _LineFeeder:
    """Lines of a text stream, none longer than MAX_ROW_CHARS: a longer line is skipped unread.

    csv.reader pulls its lines from here; `overlong` then says that the record it returned lost
    a line, or grew past the limit across quoted line breaks, and must be quarantined.
    """

    def __init__(self, text: TextIO) -> None:
        self._readline = text.readline  # called once a line: kept bound
        self._last = "\n"
        self.overlong = False
        self.record_chars = 0  # characters of the current record (chunks are cut by size too)

    def start_record(self) -> None:
        self.overlong = False
        self.record_chars = 0

    @property
    def ended(self) -> bool:
        """Whether the last line read ended with a line break."""
        return self._last.endswith(("\n", "\r"))

    def __iter__(self) -> _LineFeeder:
        return self

    def __next__(self) -> str:
        if self.record_chars > MAX_ROW_CHARS:
            # The record asks for yet another line, so it is inside a quoted field: close that
            # field so the record ends here (it is quarantined).
            self.overlong = True
            return '"\n'
        line = self._readline(MAX_ROW_CHARS + 1)
        size = len(line)
        if size > MAX_ROW_CHARS:
            self.overlong = True
            self._last = "\n" if self._skip_rest(line) else ""
            self.record_chars += 1
            return "\n"
        if not size:
            raise StopIteration
        self._last = line
        self.record_chars += size
        return line

    def _skip_rest(self, piece: str) -> bool:
        """Read past the end of an overlong line without keeping it; False if the file ends first."""
        while not piece.endswith("\n"):
            if piece.endswith("\r") and len(piece) <= MAX_ROW_CHARS:
                return True  # a bare carriage return ended it
            piece = self._readline(MAX_ROW_CHARS + 1)
            if not piece:
                return False
        return True


class _CsvRecords:
    """csv.reader over a _LineFeeder: (fields, first line, problem) per record, None at the end."""

    def __init__(self, text: TextIO, **dialect: object) -> None:
        self.feeder = _LineFeeder(text)
        self._reader = csv.reader(self.feeder, strict=True, **dialect)  # type: ignore[arg-type]
        self._previous_line = 0
        self.last_error = ""

    def next(self) -> tuple[list[str], int, str | None] | None:
        feeder = self.feeder
        feeder.overlong, feeder.record_chars = False, 0
        problem = None
        try:
            fields = next(self._reader)
        except StopIteration:
            return None
        except csv.Error as err:
            fields, self.last_error = [], str(err)
            if "unexpected end of data" in str(err):
                problem = "truncated: a quoted field is not closed before the end of the file"
            else:
                problem = f"malformed CSV ({err})"
        start = self._previous_line + 1
        self._previous_line = self._reader.line_num
        return fields, start, OVERLONG if self.feeder.overlong else problem


class _Rows:
    """One chunk being built: the kept values of each row, its lineage and its read errors."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.values: list[list[str | None]] = []
        self.rows: list[int] = []
        self.lines: list[int | None] = []
        self.errors: list[tuple[int, str, str | None, str]] = []  # (index, reason, column, raw json)
        self.nested: set[str] = set()
        self.has_nul = False

    def add(self, row: int, values: list[str | None], line: int | None = None) -> None:
        self.rows.append(row)
        self.values.append(values)
        self.lines.append(line)

    def add_error(
        self, row: int, reason: str, column: str | None, raw_record: str, line: int | None = None
    ) -> None:
        self.errors.append((len(self.rows), reason, column, raw_record))
        self.add(row, [None] * len(self.names), line)

    def frame(self, not_utf8: bool) -> pd.DataFrame:
        if self.values:
            frame = pd.DataFrame(self.values, columns=self.names, dtype=object)
        else:
            frame = pd.DataFrame({name: pd.Series([], dtype=object) for name in self.names})
        frame = with_read_columns(frame, self.rows, self.lines)
        for index, reason, column, raw_record in self.errors:
            frame.at[index, "_read_error"] = reason
            frame.at[index, "_read_column"] = column
            frame.at[index, "_raw_record"] = raw_record
        frame.attrs.update({NOT_UTF8_ATTR: not_utf8, NUL_ATTR: self.has_nul, NESTED_ATTR: set(self.nested)})
        return frame


def with_read_columns(frame: pd.DataFrame, rows: Sequence[int], lines: Sequence[int | None]) -> pd.DataFrame:
    frame.insert(0, "_source_row", np.asarray(rows, dtype=np.int64))
    frame["_source_line"] = pd.Series(lines, index=frame.index, dtype=object)
    for name in ("_read_error", "_read_column", "_raw_record"):
        frame[name] = pd.Series([None] * len(frame), index=frame.index, dtype=object)
    return frame


class CsvExport(_TextExport):
    """A CSV file with a header row; quoted fields may hold delimiters and line breaks."""

    header_lines = 1  # lines before the first data row

    def __init__(self, path: str, handle: BinaryIO, keep: Sequence[str]) -> None:
        super().__init__(path, handle, keep)
        self._records = self._new_records()
        self._header = self._read_header()
        kept: dict[str, int] = {}
        wanted = set(self._keep)
        for index, name in enumerate(self._header):
            if name in wanted:
                kept.setdefault(name, index)
        self._kept = kept

    @property
    def columns(self) -> list[str]:
        return self._header

    @property
    def kept_positions(self) -> dict[str, int]:
        """Each kept column's position in the header (the first, for a name given twice)."""
        return dict(self._kept)

    @property
    def header_lines_read(self) -> int:
        """The lines read up to the end of the header (blank lines before it included)."""
        return self._records._previous_line

    def _new_records(self) -> _CsvRecords:
        return _CsvRecords(self._text)

    def _read_header(self) -> list[str]:
        path, records = self.path, self._records
        while True:  # blank lines before the header are not the header
            record = records.next()
            if record is None:
                raise IngestError(f"{path}: the file is empty (no header row)")
            fields, line, problem = record
            if problem == OVERLONG:
                raise IngestError(
                    f"{path}: line {line}: the header is longer than {MAX_ROW_CHARS:,} characters"
                )
            if problem is not None:
                raise IngestError(f"{path}: line {line}: the header is not valid CSV ({records.last_error})")
            if fields and not (len(fields) == 1 and not fields[0].strip()):
                break
        header = [name.strip() for name in fields]
        if any(NOT_UTF8.search(name) for name in header):
            raise IngestError(f"{path}: line {line}: the header is not UTF-8")
        if len(header) == 1:
            for sep, name in ((";", "semicolon"), ("\t", "tab"), ("|", "pipe")):
                if sep in header[0]:
                    shown = sep.join(
                        part if looks_like_identifier(part.strip()) else f"<column at position {n}>"
                        for n, part in enumerate(header[0].split(sep), start=1)
                    )
                    raise IngestError(
                        f"{path}: line {line}: the header is {name}-separated, not comma-separated "
                        f"({shown[:80]!r})"
                    )
        return header

    def chunks(self) -> Iterator[pd.DataFrame]:
        records, feeder = self._records, self._records.feeder
        header, width = self._header, len(self._header)
        indices, names = list(self._kept.values()), list(self._kept)
        chunk, chunk_chars, row = _Rows(names), 0, 0
        while (record := records.next()) is not None:
            fields, line, problem = record
            if problem is None and (not fields or (len(fields) == 1 and not fields[0].strip())):
                continue  # a blank line is not a row
            row += 1
            if len(chunk.rows) >= CHUNK_ROWS or chunk_chars >= CHUNK_CHARS:
                # Only now: a row follows, so the chunk's last row is not the file's.
                yield self._frame(chunk)
                chunk, chunk_chars = _Rows(names), 0
            chunk_chars += feeder.record_chars
            # The header is line 1, so data row r starts on line r + 1 unless a quoted line break moved it.
            moved = line if line != row + self.header_lines else None
            if row == 1 and problem is None:
                self._judge_first_row(fields)
            if problem is None and len(fields) == width:
                chunk.add(row, [fields[i] or None for i in indices], moved)
            elif problem is not None:
                chunk.add_error(row, problem, None, json.dumps({"_line": line}), moved)
            else:
                raw_record = json.dumps(dict(zip(header, fields, strict=False)) | {"_fields": len(fields)})
                if len(fields) < width:
                    reason = f"row has {len(fields)} of {width} fields (missing delimiters?)"
                    column = column_label(header[len(fields)], len(fields) + 1)
                else:
                    reason = f"row has {len(fields)} fields, the header has {width} (an unquoted comma?)"
                    column = None
                chunk.add_error(row, reason, column, raw_record, moved)
                padded = (fields + [""] * width)[:width]
                chunk.values[-1] = [padded[i] or None for i in indices]
        if chunk.errors and not feeder.ended:
            index, reason, column, raw_record = chunk.errors[-1]
            if index == len(chunk.rows) - 1 and reason.startswith("row has"):
                fields_read = json.loads(raw_record)["_fields"]
                reason = f"truncated: the file ends mid-row ({fields_read} of {width} fields)"
                chunk.errors[-1] = (index, reason, column, raw_record)
        yield self._frame(chunk)

    def _judge_first_row(self, fields: list[str]) -> None:
        """A file whose rows have a header: its rows are judged one by one."""

    def _frame(self, chunk: _Rows) -> pd.DataFrame:
        chunk.has_nul = self._watch.saw_nul
        return super()._frame(chunk)


class EnrichedTsvExport(CsvExport):
    """Tab-separated lines without a header, in a column order the declared format fixes.

    Snowplow's enriched events: no quoting (a field never holds a tab or a line break), so a
    JSON field's quotes are its own. A first line of another width is another file, refused.
    """

    header_lines = 0

    def __init__(self, path: str, handle: BinaryIO, keep: Sequence[str], names: Sequence[str]) -> None:
        self._names = list(names)
        super().__init__(path, handle, keep)

    def _new_records(self) -> _CsvRecords:
        return _CsvRecords(self._text, delimiter="\t", quoting=csv.QUOTE_NONE)

    def _read_header(self) -> list[str]:
        return self._names

    def _judge_first_row(self, fields: list[str]) -> None:
        if len(fields) != len(self._names):
            raise IngestError(
                f"{self.path}: line 1 has {len(fields)} tab-separated fields, not the {len(self._names)} "
                "of an enriched event: not an enriched-event file"
            )


class JsonLinesExport(_TextExport):
    """One JSON object per line; the columns are the keys seen in the whole file."""

    newline = "\n"  # a JSON string may hold U+2028 and other breaks: only a line feed ends a record

    def __init__(self, path: str, handle: BinaryIO, keep: Sequence[str]) -> None:
        super().__init__(path, handle, keep)
        self._columns: list[str] | None = None

    @property
    def columns(self) -> list[str] | None:
        return self._columns

    def chunks(self) -> Iterator[pd.DataFrame]:
        feeder = _LineFeeder(self._text)
        seen: dict[str, None] = {}
        names = self._keep
        chunk, chunk_chars, number = _Rows(names), 0, 0
        while True:
            feeder.start_record()
            line = next(feeder, None)
            if line is None:
                break
            number += 1
            body = line.removesuffix("\n").removesuffix("\r")
            if not feeder.overlong and not body.strip():
                continue
            if len(chunk.rows) >= CHUNK_ROWS or chunk_chars >= CHUNK_CHARS:
                yield self._frame(chunk)
                chunk, chunk_chars = _Rows(names), 0
            chunk_chars += feeder.record_chars
            if feeder.overlong:
                chunk.add_error(number, OVERLONG, None, json.dumps({"_line": number}))
                continue
            try:
                record = json.loads(body)
            except json.JSONDecodeError as err:
                if not line.endswith(("\n", "\r")):  # only the last line can end without a break
                    problem = "truncated: the file ends mid-record (not valid JSON)"
                else:
                    problem = f"not valid JSON ({err.msg} at character {err.pos + 1})"
                chunk.add_error(number, problem, None, json.dumps({"_line_text": body[:2000]}))
                continue
            if not isinstance(record, dict):
                problem = f"not a JSON object (a JSON {type(record).__name__})"
                chunk.add_error(number, problem, None, json.dumps({"_line_text": body[:2000]}))
                continue
            if not record.keys() <= seen.keys():
                seen.update(dict.fromkeys(record))
            chunk.has_nul = chunk.has_nul or "\\u0000" in body
            values = []
            for name in names:
                value = record.get(name)
                if isinstance(value, dict | list):
                    chunk.nested.add(name)
                values.append(as_text(value))
            chunk.add(number, values)
        self._columns = list(seen)
        yield self._frame(chunk)


class ParquetExport(Export):
    """A Parquet file, read by row batches and only in the kept columns; values become text."""

    def __init__(self, path: str, handle: BinaryIO, keep: Sequence[str]) -> None:
        self.path = path
        self.warnings = []
        size = handle.seek(0, io.SEEK_END)
        handle.seek(0)
        head = handle.read(4)
        handle.seek(max(size - 4, 0))
        tail = handle.read(4)
        handle.seek(0)
        if size < 12 or head != b"PAR1" or tail != b"PAR1":
            where = "start" if head != b"PAR1" else "end"
            raise IngestError(
                f"{path}: not a readable Parquet file (no PAR1 marker at the {where} of its "
                f"{size:,} bytes: truncated or not Parquet)"
            )
        try:
            self._file = pq.ParquetFile(handle)
        except Exception as err:  # pyarrow raises several types for a damaged file
            raise IngestError(f"{path}: not a readable Parquet file ({_detail(err)})") from None
        schema = self._file.schema_arrow
        self._columns = [str(name).strip() for name in schema.names]
        wanted = set(keep)
        self._kept: dict[str, str] = {}  # stripped name -> the file's own name
        for name, own in zip(self._columns, schema.names, strict=True):
            if name in wanted:
                self._kept.setdefault(name, own)

    @property
    def columns(self) -> list[str]:
        return self._columns

    def chunks(self) -> Iterator[pd.DataFrame]:
        start, names = 0, list(self._kept)
        try:
            for batch in self._file.iter_batches(batch_size=CHUNK_ROWS, columns=list(self._kept.values())):
                rows = np.arange(start + 1, start + batch.num_rows + 1, dtype=np.int64)
                start += batch.num_rows
                yield _parquet_frame(batch, names, rows)
        except (pa.ArrowException, OSError) as err:
            raise IngestError(f"{self.path}: not a readable Parquet file ({_detail(err)})") from None
        if not start:  # no rows: still one (empty) chunk, as for the other formats
            yield _parquet_frame(
                pa.RecordBatch.from_pylist([], schema=self._schema()), names, np.zeros(0, np.int64)
            )

    def _schema(self) -> pa.Schema:
        schema = self._file.schema_arrow
        return pa.schema([schema.field(own) for own in self._kept.values()])


def _parquet_frame(batch: pa.RecordBatch, names: list[str], rows: np.ndarray) -> pd.DataFrame:
    columns: dict[str, pd.Series] = {}
    nested: set[str] = set()
    has_nul = False
    for name, spec, column in zip(names, batch.schema, batch.columns, strict=True):
        if pa.types.is_nested(spec.type):
            nested.add(name)
            values = [
                None if v is None else NestedValue(json.dumps(v, default=str)) for v in column.to_pylist()
            ]
            columns[name] = pd.Series(values, dtype=object)
            continue
        if pa.types.is_string(spec.type) or pa.types.is_large_string(spec.type):
            has_nul = has_nul or bool(pc.any(pc.match_substring(column, "\x00")).as_py())
        if pa.types.is_timestamp(spec.type):
            stamps = column.to_pandas()
            if stamps.dt.tz is None:
                stamps = stamps.dt.tz_localize("UTC")
            texts = stamps.dt.strftime("%Y-%m-%dT%H:%M:%S.%f%z").astype(object).tolist()
            values = [text if isinstance(text, str) else None for text in texts]
        else:
            # Python values, not a pandas Series: pandas infers a string dtype and turns None into NaN.
            values = [as_text(value) for value in column.to_pylist()]
        columns[name] = pd.Series(values, dtype=object)
    frame = with_read_columns(pd.DataFrame(columns, index=range(len(rows))), rows, [None] * len(rows))
    frame.attrs.update({NOT_UTF8_ATTR: False, NUL_ATTR: has_nul, NESTED_ATTR: nested})
    return frame


def _detail(err: Exception) -> str:
    return scrubbed(str(err)) or type(err).__name__


def as_text(value: object) -> str | None:
    """A value of a JSON record or Parquet column as the text the parser reads."""
    if value is None or (isinstance(value, float) and value != value):  # NaN: no value
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return NestedValue(json.dumps(value))
    return str(value)
