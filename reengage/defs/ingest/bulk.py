"""A plain CSV export read by DuckDB on the warehouse connection: its surely good rows inserted set-wise.

reader.py reads a CSV file record by record in Python, with every guarantee about odd files
(quoted line breaks, blank lines, bytes that are not UTF-8, NUL bytes, ragged or overlong rows).
Most exports have none of these, and for them DuckDB's CSV reader splits the rows exactly as
Python's csv module does, many times faster. So a file is first checked for what could make
the two disagree:

- its bytes (one pass in 1 MiB blocks): not UTF-8, a NUL byte, a carriage return that does not
  end a line, or spaces between a delimiter and a quote (DuckDB drops some, Python keeps them);
- a file with quotes is scanned once more before any row is loaded: a line break inside a quoted
  value (it moves the rows after it off their line numbers), a value longer than Python's csv
  field limit or a record too long for the reader;
- any row DuckDB refuses (a stray quote, a line longer than the field limit), any row of another
  width, or a line count that does not add up to header + rows (a blank line, which Python skips
  but counts), found while the rows are read below.

Any of these and the file is read by reader.py instead (`NotPlain`; the caller rolls back what
was inserted). Otherwise, inside the caller's transaction:

1. `insert_sure_rows`: one scan numbers the rows in file order (as reader.py numbers them),
   screens them (screen.py) and inserts those the screen passes, typed, with their lineage,
   straight into the raw table;
2. `rest`: one scan gives back the other rows, as the reader's frames, for parse.py to judge (the
   loader then judges the rows sharing a key together, as a file read at once judges them).

A row DuckDB inserted must share its unique key with no other row of the file, or it would need
judging again. The loader checks that once the file is read (`KeysRepeated`) and then reads the
file again with `keys_first`: a second scan hashes every row's key first, and a row whose key
another row holds is left to parse.py. Most exports repeat no key, and the check costs a fifth
of that scan.
"""

from __future__ import annotations

import codecs
import csv
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from reengage.defs.ingest.contracts import Contract
from reengage.defs.ingest.reader import (
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
from reengage.defs.ingest.screen import Screen

BLOCK_BYTES = 1024 * 1024
# Spaces between a delimiter or line start and an opening quote, or between a closing quote and a
# delimiter or line end: DuckDB drops some of them, Python's csv module keeps or refuses them.
SPACED_QUOTE = re.compile(rb'[,\r\n] +"|" +[,\r\n]')
NEWLINE, SPACE, COMMA = ord("\n"), ord(" "), ord(",")
# Whitespace to Python's str.strip besides spaces and line breaks (a value may hold none at its ends).
CONTROL_WHITESPACE = tuple(bytes([code]) for code in (9, 11, 12, 28, 29, 30, 31))
EDGE = np.zeros(256, dtype=bool)  # the bytes a value's first or last character can stand beside
EDGE[list(b',\n\r"')] = True
ROW = "_r"  # the row number DuckDB's scans give each row, in file order
# A transaction holds the rows DuckDB inserts from its CSV reader in memory until it commits, and the
# commit's checkpoint more (measured: a 4,000,000-row file peaked at 1.26 GiB, 0.88 GiB read by the
# Python reader). A larger file is read by the Python reader, within the 2 GiB any single file may
# take; a day of a history load is far smaller.
LARGEST_FILE_BYTES = 256 * 1024 * 1024


class NotPlain(Exception):
    """DuckDB and Python's csv module might read this file differently: reader.py reads it."""


class KeysRepeated(Exception):
    """A row DuckDB inserted shares its unique key with another row of the file: read the file again with
    its repeated keys found first (`plain_csv(..., keys_first=True)`)."""


@dataclass
class _Bytes:
    """What one pass over a file's bytes found."""

    line_breaks: int = 0
    commas: int = 0
    ends_with_break: bool = True
    has_quotes: bool = False
    plain: bool = True  # UTF-8, no NUL, no lone carriage return, no space beside a quote
    # Whether some value may start or end with whitespace: a byte Python's str.isspace holds beside a
    # delimiter, a quote or a line break, any other whitespace than a space, or any byte not ASCII
    # (where Unicode's spaces may be). Without, nothing needs stripping (screen.py).
    edge_whitespace: bool = False


def readable(export: object) -> bool:
    """Whether `export` is a local CSV file with a header (the only kind read here)."""
    return (
        isinstance(export, CsvExport)
        and not isinstance(export, EnrichedTsvExport)
        and export.local_file is not None
        and export.header_lines_read == 1
    )


def plain_csv(export: CsvExport, contract: Contract, day: date, keys_first: bool) -> PlainCsv | None:
    """The file ready to be read by DuckDB, or None when it is too large or its bytes are not plain.
    `keys_first`: leave the rows whose key another row holds to parse.py (see the module's docstring)."""
    path = export.local_file
    assert path is not None
    identity = _identity(path)
    if identity[2] > LARGEST_FILE_BYTES:
        return None
    found = _scan_bytes(path)
    if not found.plain:
        return None
    return PlainCsv(export, contract, day, path, found, identity, keys_first)


class PlainCsv:
    """The DuckDB scans over one plain CSV file, run on the warehouse connection."""

    def __init__(
        self,
        export: CsvExport,
        contract: Contract,
        day: date,
        path: str,
        found: _Bytes,
        identity: tuple[int, ...],
        keys_first: bool,
    ) -> None:
        self.contract = contract
        self.day = day
        self.path = path
        self.shown = export.path
        self.found = found
        self.identity = identity
        self.keys_first = keys_first
        self.width = width = len(export.columns)
        # A row with fields too few or too many is an error of DuckDB's strict reader, but for empty
        # fields past the last column, which it drops: the file's commas are counted (`rest`).
        self.header_commas = width - 1 + sum(name.count(",") for name in export.columns)
        self.commas_in_values = 0  # counted by `check_quoted` in a file with quotes
        names = {f"c{n}": "VARCHAR" for n in range(width)}
        self.source = (
            "read_csv($path, header = true, auto_detect = false, all_varchar = true, delim = ',', "
            f"quote = '\"', escape = '\"', strict_mode = true, columns = {names!r}, "
            f"max_line_size = {csv.field_size_limit()}, null_padding = false, "
            # In file order: the rows are numbered as they are read.
            "parallel = false)"
        )
        self.all_columns = [f"c{n}" for n in range(width)]
        positions = export.kept_positions
        self.kept = {name: f"c{positions[name]}" for name in contract.names if name in positions}
        self.screen = Screen(contract, frozenset(self.kept), found.edge_whitespace)

    def check_quoted(self, con: duckdb.DuckDBPyConnection) -> None:
        """With quotes: refuse line breaks in values, and values or records too long to read alike; count
        the commas inside values."""
        if not self.found.has_quotes:
            return
        lengths = [f"coalesce(length({c}), 0)" for c in self.all_columns]

        def inside(character: str) -> str:
            return " + ".join(
                f"coalesce(length({c}) - length(replace({c}, {character}, '')), 0)" for c in self.all_columns
            )

        breaks_found, commas, longest_value, longest_record = self._execute(
            con,
            f"select coalesce(sum({inside('chr(10)')}), 0), coalesce(sum({inside('chr(44)')}), 0), "
            f"coalesce(max(greatest({', '.join(lengths)})), 0), coalesce(max({' + '.join(lengths)}), 0) "
            f"from {self.source}",
        ).fetchone()
        self.commas_in_values = int(commas)
        if breaks_found or longest_value >= csv.field_size_limit() or longest_record > MAX_ROW_CHARS // 2:
            raise NotPlain()

    def insert_sure_rows(self, con: duckdb.DuckDBPyConnection, lineage: dict[str, Any]) -> int:
        """Insert the rows the screen passes into the raw table, typed; their number."""
        screen = self.screen
        typed = [f'{screen.typed(col)} as "{col.name}"' for col in self.contract.columns]
        rows = (
            f"select {', '.join(typed)}, $file as _source_file, {ROW} as _source_row, "
            f"$day as _partition_date, $loaded_at as _loaded_at "
            f"from ({self._screened()}) where {screen.sure()}{self._key_not_repeated()}"
        )
        parameters = {
            "file": lineage["_source_file"],
            "day": lineage["_partition_date"],
            "loaded_at": lineage["_loaded_at"],
        }
        insert = f"insert into raw.{self.contract.source} by name {rows}"
        return int(self._execute(con, insert, parameters).fetchone()[0])

    def rest(self, con: duckdb.DuckDBPyConnection, inserted: int) -> Iterator[pd.DataFrame]:
        """The rows `insert_sure_rows` left out, as the reader's frames; then the file's line and comma
        counts are checked against its rows."""
        rows = inserted
        # Header line + one line a row, less one if the last row has no line break (no value holds one).
        lines = self.found.line_breaks + (0 if self.found.ends_with_break else 1)
        if rows != lines - 1:  # rows were left out (or lines are blank): read them
            texts = [f'"{name}"' for name in self.kept]
            sql = (
                f"select {ROW}, {', '.join(texts) or 'null as none'} "
                f"from ({self._numbered()}) where {ROW} not in (select _source_row "
                f"from raw.{self.contract.source} where _partition_date = $day) order by {ROW}"
            )
            for batch in self._batches(con, sql, {"day": self.day}):
                rows += batch.num_rows
                yield self._frame(batch)
        if (rows and rows != lines - 1) or (not rows and self.found.line_breaks > 1):
            raise NotPlain()  # a blank line, or a header over several lines
        if self.found.commas != self.header_commas + rows * (self.width - 1) + self.commas_in_values:
            raise NotPlain()  # empty fields past the last column, which DuckDB dropped

    def verify_unchanged(self) -> None:
        if _identity(self.path) != self.identity:
            raise IngestError(f"{self.shown}: the file changed while it was being loaded; load it again")

    def _numbered(self) -> str:
        """The file's rows in file order, numbered, with the kept columns also under the contract's names."""
        columns = [
            *self.all_columns,
            *(f'{column} as "{name}"' for name, column in self.kept.items()),
        ]
        return f"select row_number() over () as {ROW}, {', '.join(columns)} from {self.source}"

    def _key_not_repeated(self) -> str:
        """With `keys_first`, ' and <the row's key is no other row's>': a condition on a screened row.
        Every row's key is hashed as it would be loaded (stripped, lower-cased where the contract says),
        screened or not: so a row inserted here shares its key with no row parse.py judges."""
        name = self.contract.unique_key
        if not self.keys_first or name is None or name not in self.kept:
            return ""
        screen = self.screen
        key = screen.typed(self.contract.column(name))
        stripped = screen.stripped(name)
        every_key = (
            f"select {screen.stripped_column(name)} "
            f'from (select {self.kept[name]} as "{name}" from {self.source})'
        )
        repeated = (
            f"select hash({key}) from ({every_key}) where {stripped} is not null "
            f"group by 1 having count(*) > 1"
        )
        return f" and hash({key}) not in ({repeated})"

    def _screened(self) -> str:
        return f"select *, {', '.join(self.screen.stripped_columns())} from ({self._numbered()})"

    def _frame(self, batch: pa.RecordBatch) -> pd.DataFrame:
        # An empty field is None, as the reader gives it (DuckDB reads it as empty text here).
        frame = pd.DataFrame(
            {
                name: pd.Series([v or None for v in batch.column(name).to_pylist()], dtype=object)
                for name in self.kept
            }
        )
        rows = batch.column(ROW).to_numpy(zero_copy_only=False)
        frame = with_read_columns(frame, rows, [None] * len(rows))
        frame.attrs.update({NOT_UTF8_ATTR: False, NUL_ATTR: False, NESTED_ATTR: set()})
        return frame

    def _batches(
        self, con: duckdb.DuckDBPyConnection, sql: str, parameters: dict[str, object]
    ) -> Iterator[pa.RecordBatch]:
        reader = self._execute(con, sql, parameters).to_arrow_reader(CHUNK_ROWS)
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                return
            except (duckdb.Error, pa.ArrowException):
                raise NotPlain() from None  # a row DuckDB's reader refuses, found as it reads on
            yield batch

    def _execute(
        self, con: duckdb.DuckDBPyConnection, sql: str, parameters: dict[str, object] | None = None
    ) -> duckdb.DuckDBPyConnection:
        given = {"path": self.path, **self.screen.parameters(self.day), **(parameters or {})}
        try:
            return con.execute(sql, {name: value for name, value in given.items() if f"${name}" in sql})
        except duckdb.Error:
            raise NotPlain() from None  # a row DuckDB's reader refuses: the Python reader judges it


def _scan_bytes(path: str) -> _Bytes:
    found = _Bytes()
    decoder = codecs.getincrementaldecoder("utf-8")()
    carry = b"\n"  # the file starts as if after a line break
    last = b""
    with open(path, "rb", buffering=0) as file:
        while block := file.read(BLOCK_BYTES):
            window = carry + block
            # A spaced quote needs a quote, a lone carriage return a carriage return: `in` finds a single
            # byte at memory speed, so the slower searches run only on the blocks that hold one.
            quoted = b'"' in window
            spaced = quoted and (b' "' in window or b'" ' in window) and SPACED_QUOTE.search(window)
            if b"\x00" in block or spaced or (b"\r" in window and _lone_carriage_return(window)):
                found.plain = False
                return found
            found.edge_whitespace = found.edge_whitespace or _edge_whitespace(window)
            if not block.isascii():
                try:
                    decoder.decode(block)
                except UnicodeDecodeError:
                    found.plain = False
                    return found
            found.line_breaks += _count(block, NEWLINE)
            found.commas += _count(block, COMMA)
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
    found.edge_whitespace = found.edge_whitespace or last == b" "  # the file's last value ends with one
    if SPACED_QUOTE.search(carry + b"\n") or last == b"\r":
        found.plain = False  # at the very end: a quote then spaces, a line ended by a lone carriage return
    found.ends_with_break = last in (b"\n", b"")
    return found


def _edge_whitespace(window: bytes) -> bool:
    """Whether `window` (a block after the bytes carried from the one before) may hold a value starting
    or ending with whitespace; see _Bytes.edge_whitespace. Spaces are looked at one by one (an export
    has few); a space at a window's end is carried into the next window and judged there."""
    if not window.isascii() or any(character in window for character in CONTROL_WHITESPACE):
        return True
    codes = np.frombuffer(window, dtype=np.uint8)
    spaces = np.flatnonzero(codes == SPACE)
    if not spaces.size:
        return False
    before = EDGE[codes[spaces[spaces > 0] - 1]]
    after = EDGE[codes[spaces[spaces < codes.size - 1] + 1]]
    return bool(spaces[0] == 0 or before.any() or after.any())


def _count(block: bytes, byte: int) -> int:
    """How often `byte` occurs in `block`: numpy compares a whole block at once, about six times faster
    than bytes.count, which the file's line breaks and commas were counted with."""
    return int(np.count_nonzero(np.frombuffer(block, dtype=np.uint8) == byte))


def _lone_carriage_return(window: bytes) -> bool:
    """A carriage return not followed by a line feed (one at the window's very end is judged later)."""
    carriage_returns = window.count(b"\r")
    return bool(carriage_returns) and carriage_returns != window.count(b"\r\n") + window.endswith(b"\r")


def _identity(path: str) -> tuple[int, ...]:
    st = os.stat(path)
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
