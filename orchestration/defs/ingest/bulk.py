"""A plain CSV export read by DuckDB: its surely good rows typed set-wise, the others handed on.

reader.py reads a CSV file record by record in Python, with every guarantee about odd files
(quoted line breaks, blank lines, bytes that are not UTF-8, NUL bytes, ragged or overlong rows).
Most exports have none of these, and for them DuckDB's CSV reader splits the rows exactly as
Python's csv module does, many times faster. So a file is first checked for what could make
the two disagree:

- its bytes (one pass in 1 MiB blocks): not UTF-8, a NUL byte, a carriage return that does not
  end a line, or spaces between a delimiter and a quote (DuckDB drops some, Python keeps them);
- then one DuckDB scan: any row DuckDB refuses (a stray quote, a short or long row, a line
  longer than Python's csv field limit), a value longer than that limit, or a line count that
  does not add up to header + rows + quoted line breaks (a blank line, which Python skips but
  counts).

Any of these and the file is read by reader.py as before (`read` returns None). Otherwise a
second scan streams the rows in file order, numbered as reader.py numbers them, with the screen
(screen.py) beside them: rows the screen passes and whose key is not repeated in the file are
loaded as DuckDB typed them; the rest come back as the reader's frames for parse.py, which
judges them (and, for a repeated key, the loader judges them together as before).

The scans run in a private in-memory DuckDB with a memory limit, spilling to the load's
staging folder, so a file's size does not decide what must fit in memory.
"""

from __future__ import annotations

import codecs
import csv
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from orchestration.defs.ingest.contracts import Contract
from orchestration.defs.ingest.reader import (
    CHUNK_ROWS,
    MAX_ROW_CHARS,
    NESTED_ATTR,
    NOT_UTF8_ATTR,
    NUL_ATTR,
    CsvExport,
    EnrichedTsvExport,
    IngestError,
    with_read_columns,
)
from orchestration.defs.ingest.screen import Screen

BLOCK_BYTES = 1024 * 1024
# Spaces between a delimiter or line start and an opening quote, or between a closing quote and a
# delimiter or line end: DuckDB drops some of them, Python's csv module keeps or refuses them.
SPACED_QUOTE = re.compile(rb'[,\r\n] +"|" +[,\r\n]')
# The private DuckDB's memory: its scans spill to disk beyond it (a repeated-key search over a
# large file), keeping a load well inside the 2 GiB any single file may take.
MEMORY_LIMIT = "512MB"


@dataclass
class _Bytes:
    """What one pass over a file's bytes found."""

    line_breaks: int = 0
    ends_with_break: bool = True
    has_quotes: bool = False
    plain: bool = True  # UTF-8, no NUL, no lone carriage return, no space beside a quote


@dataclass
class Chunk:
    """Rows of one stretch of the file: the surely good ones typed, the others as the reader gives them."""

    sure: pa.Table  # typed contract columns + _source_row
    rest: pd.DataFrame  # text columns + READ_COLUMNS, for parse.py
    # Per timestamp column, among the sure rows: (values without a UTC offset, first such row).
    naive: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return self.sure.num_rows + len(self.rest)


def readable(export: object) -> bool:
    """Whether `export` is a local CSV file with a header (the only kind read here)."""
    return (
        isinstance(export, CsvExport)
        and not isinstance(export, EnrichedTsvExport)
        and export.local_file is not None
        and export.header_lines_read == 1
    )


def read(
    export: CsvExport, contract: Contract, day: date, spill: Path, threads: int = 1
) -> Iterator[Chunk] | None:
    """The file's rows chunk by chunk, or None when it is not plain enough (see the module's docstring)."""
    path = export.local_file
    assert path is not None
    identity = _identity(path)
    found = _scan_bytes(path)
    if not found.plain:
        return None
    con = duckdb.connect()
    try:
        con.execute("set timezone = 'UTC'")
        con.execute(f"set memory_limit = '{MEMORY_LIMIT}'")
        con.execute("set temp_directory = ?", [str(spill)])
        con.execute("set preserve_insertion_order = true")
        con.execute("set enable_progress_bar = false")
        con.execute(f"set threads = {int(threads)}")
        scan = _Scan(con, export, contract, path, found.has_quotes)
        repeated = scan.check(found, day)
    except (duckdb.Error, _NotPlain):
        con.close()
        return None
    return _stream(con, scan, day, repeated, path, identity)


class _NotPlain(Exception):
    """DuckDB and Python's csv module might read this file differently."""


def _scan_bytes(path: str) -> _Bytes:
    found = _Bytes()
    decoder = codecs.getincrementaldecoder("utf-8")()
    carry = b"\n"  # the file starts as if after a line break
    last = b""
    with open(path, "rb", buffering=0) as file:
        while block := file.read(BLOCK_BYTES):
            window = carry + block
            # `in` first: a regular expression tried at every delimiter of a block is slow.
            spaced = (b' "' in window or b'" ' in window) and SPACED_QUOTE.search(window)
            if b"\x00" in block or spaced or _lone_carriage_return(window):
                found.plain = False
                return found
            if not block.isascii():
                try:
                    decoder.decode(block)
                except UnicodeDecodeError:
                    found.plain = False
                    return found
            found.line_breaks += block.count(b"\n")
            found.has_quotes = found.has_quotes or b'"' in block
            # What a pattern may need from this block to match across into the next: its last
            # character before any trailing spaces and carriage return, and those.
            kept = len(window.rstrip(b" \r"))
            carry = window[max(kept - 1, 0) :]
            last = block[-1:]
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        found.plain = False
    if SPACED_QUOTE.search(carry + b"\n") or last == b"\r":
        found.plain = False  # at the very end: a quote then spaces, a line ended by a lone carriage return
    found.ends_with_break = last in (b"\n", b"")
    return found


def _lone_carriage_return(window: bytes) -> bool:
    """A carriage return not followed by a line feed (one at the window's very end is judged later)."""
    carriage_returns = window.count(b"\r")
    return bool(carriage_returns) and carriage_returns != window.count(b"\r\n") + window.endswith(b"\r")


class _Scan:
    """The DuckDB queries over one CSV file."""

    def __init__(
        self, con: duckdb.DuckDBPyConnection, export: CsvExport, contract: Contract, path: str, quotes: bool
    ) -> None:
        self.con = con
        self.contract = contract
        self.quotes = quotes
        width = len(export.columns)
        # One column more than the header: DuckDB drops empty fields past the last column, so a row
        # with a delimiter too many would pass for a whole one. Padded with null and with no text read
        # as null (a NUL byte never reaches here), a missing field is null and a present one is text.
        names = {f"c{n}": "VARCHAR" for n in range(width + 1)}
        self.source = (
            "read_csv($path, header = true, auto_detect = false, all_varchar = true, delim = ',', "
            f"quote = '\"', escape = '\"', strict_mode = true, columns = {names!r}, "
            f"max_line_size = {csv.field_size_limit()}, null_padding = true, nullstr = chr(0), "
            # DuckDB's parallel scanner cannot pad rows when a quoted value may hold a line break.
            f"parallel = {str(not quotes).lower()})"
        )
        self.whole_row = f"c{width - 1} is not null and c{width} is null"
        self.all_columns = [f"c{n}" for n in range(width)]
        self.spare = f"c{width}"
        positions = export.kept_positions
        self.kept = {name: f"c{positions[name]}" for name in contract.names if name in positions}
        self.screen = Screen(contract, frozenset(self.kept))
        self.path = path

    def _renamed(self) -> str:
        """The file's rows: every column, the kept ones also under the contract's names and stripped."""
        kept = [f'{column} as "{name}"' for name, column in self.kept.items()]
        renamed = f"select {', '.join(self.all_columns + [self.spare] + kept)} from {self.source}"
        return f"select *, {', '.join(self.screen.stripped_columns())} from ({renamed})"

    def _breaks(self) -> str:
        """Line breaks inside a row's quoted values (every column's, kept or not)."""
        if not self.quotes:
            return "0"
        return " + ".join(
            f"coalesce(length({c}) - length(replace({c}, chr(10), '')), 0)" for c in self.all_columns
        )

    def check(self, found: _Bytes, day: date) -> np.ndarray:
        """Scan the file once: refuse what is not plain; the hashes of keys given to more than one row."""
        key = self.screen.key()
        hashed = f"hash({key})" if key else "null::ubigint"
        longest = (
            "greatest(" + ", ".join(f"coalesce(length({c}), 0)" for c in self.all_columns) + ")"
            if self.quotes
            else "0"
        )
        record = " + ".join(f"coalesce(length({c}), 0)" for c in self.all_columns) if self.quotes else "0"
        per_key = (
            f"select {hashed} as h, count(*) as n, sum({self._breaks()}) as breaks, "
            f"max({longest}) as longest, max({record}) as record, "
            f"count(*) filter (where not ({self.whole_row})) as ragged from ({self._renamed()}) group by 1"
        )
        rows, breaks, longest_value, longest_record, ragged, repeated = self._execute(
            "select coalesce(sum(n), 0), coalesce(sum(breaks), 0), coalesce(max(longest), 0), "
            "coalesce(max(record), 0), coalesce(sum(ragged), 0), "
            f"coalesce(list(h) filter (where n > 1 and h is not null), []) from ({per_key})",
            day,
        ).fetchone()
        # Header line + one line a row + the quoted line breaks, less one if the last row has no break.
        expected = 1 + rows + breaks - (0 if found.ends_with_break else 1)
        if rows and expected != found.line_breaks:
            raise _NotPlain()  # a blank line, or a header over several lines
        if not rows and found.line_breaks > 1:
            raise _NotPlain()
        if ragged or longest_value >= csv.field_size_limit() or longest_record > MAX_ROW_CHARS // 2:
            raise _NotPlain()  # a row of another width, or a value or record too long for Python's reader
        return np.sort(np.asarray(repeated, dtype=np.uint64))

    def stream(self, day: date) -> pa.RecordBatchReader:
        screen, key = self.screen, self.screen.key()
        texts = [f'"{name}" as "text:{name}"' for name in self.kept]
        typed = [f'{screen.typed(col)} as "typed:{col.name}"' for col in self.contract.columns]
        naive = [
            f'{screen.naive(col)} as "naive:{col.name}"'
            for col in self.contract.columns
            if col.type == "timestamp"
        ]
        extra = [
            f"{screen.sure()} as sure",
            f"{f'hash({key})' if key else 'null::ubigint'} as h",
            f"{self._breaks()} as breaks",
        ]
        sql = f"select {', '.join(texts + typed + naive + extra)} from ({self._renamed()})"
        return self._execute(sql, day).to_arrow_reader(CHUNK_ROWS)

    def _execute(self, sql: str, day: date) -> duckdb.DuckDBPyConnection:
        parameters = {"path": self.path, **self.screen.parameters(day)}
        return self.con.execute(sql, {name: value for name, value in parameters.items() if f"${name}" in sql})


def _stream(
    con: duckdb.DuckDBPyConnection,
    scan: _Scan,
    day: date,
    repeated: np.ndarray,
    path: str,
    identity: tuple[int, ...],
) -> Iterator[Chunk]:
    try:
        start, breaks_before = 0, 0
        contract = scan.contract
        for batch in scan.stream(day):
            n = batch.num_rows
            rows = np.arange(start + 1, start + n + 1, dtype=np.int64)
            start += n
            breaks = batch.column("breaks").to_numpy(zero_copy_only=False).astype(np.int64)
            # Row r starts on line r + 1 unless quoted line breaks in earlier rows moved it.
            before = breaks_before + np.cumsum(breaks) - breaks
            breaks_before += int(breaks.sum())
            sure = batch.column("sure").to_numpy(zero_copy_only=False).astype(bool)
            if len(repeated):
                hashes = batch.column("h").to_numpy(zero_copy_only=False)
                sure &= ~_contains(repeated, hashes)
            yield Chunk(
                sure=_sure_rows(batch, contract, rows, sure),
                rest=_rest_rows(batch, contract, scan.kept, rows, before, ~sure),
                naive=_naive(batch, contract, rows, sure),
            )
        if _identity(path) != identity:
            raise IngestError(f"{path}: the file changed while it was being loaded; load it again")
    except duckdb.Error as err:
        raise IngestError(
            f"{path}: DuckDB could not read the file a second time ({type(err).__name__})"
        ) from None
    finally:
        con.close()


def _contains(sorted_values: np.ndarray, values: np.ndarray) -> np.ndarray:
    at = np.searchsorted(sorted_values, values).clip(max=len(sorted_values) - 1)
    return sorted_values[at] == values


def _sure_rows(batch: pa.RecordBatch, contract: Contract, rows: np.ndarray, sure: np.ndarray) -> pa.Table:
    mask = pa.array(sure)
    columns = {col.name: batch.column(f"typed:{col.name}").filter(mask) for col in contract.columns}
    columns["_source_row"] = pa.array(rows[sure])
    return pa.table(columns)


def _rest_rows(
    batch: pa.RecordBatch,
    contract: Contract,
    kept: dict[str, str],
    rows: np.ndarray,
    breaks_before: np.ndarray,
    rest: np.ndarray,
) -> pd.DataFrame:
    mask = pa.array(rest)
    # An empty field is None, as the reader gives it (DuckDB reads it as empty text here).
    frame = pd.DataFrame(
        {
            name: pd.Series(
                [v or None for v in batch.column(f"text:{name}").filter(mask).to_pylist()], dtype=object
            )
            for name in kept
        }
    )
    lines = (rows[rest] + 1 + breaks_before[rest]).tolist()
    moved = [line if moved else None for line, moved in zip(lines, breaks_before[rest] > 0, strict=True)]
    frame = with_read_columns(frame, rows[rest], moved)
    frame.attrs.update({NOT_UTF8_ATTR: False, NUL_ATTR: False, NESTED_ATTR: set()})
    return frame


def _naive(
    batch: pa.RecordBatch, contract: Contract, rows: np.ndarray, sure: np.ndarray
) -> dict[str, tuple[int, int]]:
    found = {}
    for col in (c for c in contract.columns if c.type == "timestamp"):
        naive = batch.column(f"naive:{col.name}").to_numpy(zero_copy_only=False).astype(bool) & sure
        if naive.any():
            found[col.name] = (int(naive.sum()), int(rows[naive][0]))
    return found


def _identity(path: str) -> tuple[int, ...]:
    st = os.stat(path)
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
