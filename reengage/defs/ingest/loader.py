"""Load one day's export of one source into its raw table, idempotently.

A partition is replaced in one transaction: loading the same day twice leaves the
same rows, and a load that fails half-way leaves the warehouse as it was. A file
that yields no good rows never replaces a partition that holds rows (an empty
re-delivery is far likelier a broken export than a day that un-happened).
Files dated after the day are never read by its load; they are counted.

The file is read and judged chunk by chunk, its rows kept on disk (staging.py) and
published in that one transaction, so its size does not decide what must fit in
memory. A plain CSV file's surely good rows are inserted by DuckDB itself in that
transaction (bulk.py); only the others are parsed here. Rows sharing the unique key are
looked for across the whole file: DuckDB hashes every parsed row's key to 64 bits, and only
the rows whose hash repeats are taken back as read and judged together (parse.py
`_duplicates`), with exactly the reasons a file read at once gets (DuckDB inserts no row
whose key another row of the file holds: those are parsed here too).

A history load (`load_days`) commits its days in groups, so the rows of many days are
written and compressed once.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import duckdb
import numpy as np
import pandas as pd

from reengage.defs.ingest import bulk, reader
from reengage.defs.ingest.contracts import CONTRACTS, Contract
from reengage.defs.ingest.formats.convert import to_canonical
from reengage.defs.ingest.formats.declaration import DeclaredFormat, declared_format
from reengage.defs.ingest.formats.header import check_format_columns, undeclared_hint
from reengage.defs.ingest.header import check_columns
from reengage.defs.ingest.names import scrubbed, shown_values
from reengage.defs.ingest.parse import ParsedExport, naive_warning, parse_export
from reengage.defs.ingest.reader import (
    Export,
    IngestError,
    list_landing,
    only_export,
    open_export,
)
from reengage.defs.ingest.staging import StagedFile, staged_file
from reengage.privacy.forget_list import drop_forgotten, listed_keys
from reengage.schema.migrations import migrate
from reengage.warehouse import transaction
from reengage.wording import counted

# Reasons a refused file's message names (the most frequent first).
REASONS_SHOWN = 3
# A history load (`load_days`) commits its days in groups of about this many rows read. One commit
# per day wrote each day's rows twice: to the write-ahead log, and again, compressed, at a checkpoint
# (a day of events is mostly smaller than a row group, 122,880 rows, the least DuckDB writes straight
# to the file). A group's rows fill whole row groups, which DuckDB compresses and writes to the file
# as the group inserts them; the commit then logs little. Measured with benchmarks/ingest_memory.py
# --case backfill: a third of a history load's CPU time. The bound keeps what a failed group loads
# again, and the memory a transaction holds, small.
GROUP_ROWS = 2_000_000
# DuckDB checkpoints its file at a commit that leaves more than 16 MB in its write-ahead log; during
# a history load nearly every other day's commit checkpointed and compressed the row group it shares
# with the day before again. Checkpoints this far apart compress each row group about once; the log's
# rows wait in memory until then, which this bounds.
HISTORY_CHECKPOINT_THRESHOLD = "256MB"
# Compression methods a history load does not try on the raw tables. DuckDB analyses every method
# on every column segment it writes and keeps the smallest; for the exports' short texts (ids,
# names, links) these two are never the smallest, yet trying them was about a quarter of the load's
# CPU time. The stored size is unchanged (43 MiB for benchmarks/ingest_memory.py's 2,000,000 rows
# either way); FSST, dictionary and the rest are still tried. A value DuckDB would have stored with
# one of these (long repetitive texts) is stored with the next best. Any other connection, dbt's
# included, keeps DuckDB's defaults.
HISTORY_SKIPPED_COMPRESSION = "zstd,dict_fsst"


@dataclass
class LoadReport:
    source: str
    day: date
    file: str | None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    rows_forgotten: int = 0  # rows of erased people (privacy.forget_list): dropped, never stored
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    # "column: reason" -> values of a soft column set to null in rows that were loaded (contracts.py)
    values_set_to_null: dict[str, int] = field(default_factory=dict)
    # column -> value -> rows loaded with a value outside the column's vocabulary (contracts.py)
    unknown_values: dict[str, dict[str, int]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    later_files: list[str] = field(default_factory=list)  # landing files dated after `day`, not loaded
    read_by_duckdb: bool = False  # a plain CSV file, read and screened by DuckDB (bulk.py)
    keys_repeated: bool = False  # rows of the file share a unique key (read again: bulk.KeysRepeated)

    def forget_rows(self) -> None:
        """Back to no row read: the file is read again from its first row."""
        self.rows_read = self.rows_loaded = self.rows_quarantined = self.rows_forgotten = 0
        self.quarantine_reasons = {}

    @property
    def missing(self) -> bool:
        return self.file is None

    def unknown_values_lines(self) -> list[str]:
        """Per column with values outside its vocabulary, one line for the run log (counts, no values)."""
        contract = CONTRACTS[self.source]
        return [
            f"{self.file}: column {column!r}: {sum(values.values())} rows hold {len(values)} values not in "
            f"{contract.column(column).vocabulary_source} (loaded; describe them there)"
            for column, values in self.unknown_values.items()
            if values
        ]

    @property
    def summary(self) -> str:
        """One line for the run log (file names and counts only, never values)."""
        if self.missing:
            return (
                f"{self.source} for {self.day}: no export file ({self.source}_{self.day}.csv|jsonl|parquet)"
            )
        nulled = sum(self.values_set_to_null.values())
        return (
            f"{self.file}: read {self.rows_read}, loaded {self.rows_loaded}, "
            f"quarantined {self.rows_quarantined}"
            + (f", {counted(nulled, 'bad value')} set to null in loaded rows" if nulled else "")
            + (f", dropped {self.rows_forgotten} of erased people" if self.rows_forgotten else "")
        )


def load_day(
    con: duckdb.DuckDBPyConnection, landing: str, source: str, day: date, *, duckdb_reads_csv: bool = True
) -> LoadReport:
    """Load `source`'s export for `day` in one transaction; a missing file leaves what is stored untouched.

    `duckdb_reads_csv=False` reads a plain CSV file with the Python reader too (bulk.py): the
    tests and the benchmark compare the two.
    """
    migrate(con)  # the raw tables are declared in reengage.schema, from the contracts
    return _load_day(con, landing, source, day, duckdb_reads_csv=duckdb_reads_csv, grouped=False)


def load_days(
    con: duckdb.DuckDBPyConnection,
    landing: str,
    source: str,
    days: list[date],
    *,
    loaded: Callable[[LoadReport], None] = lambda report: None,
    duckdb_reads_csv: bool = True,
) -> list[LoadReport]:
    """Load `source`'s exports for `days` in order, as a history load does: each day is what
    `load_day` makes it, and `loaded` is told of each report once its day is committed.

    Days are committed in groups of about GROUP_ROWS rows, a transaction each. Anything that goes
    wrong inside a group rolls the whole group back and its days are loaded again one transaction
    each, as `load_day` loads them: so a refused file still ends the load with every day before it
    stored and itself left as it was, and a file DuckDB cannot read plainly is still read by the
    Python reader (bulk.py). Only an error of a day's own transaction is raised.
    """
    migrate(con)
    reports: list[LoadReport] = []
    keys_first = False  # once a file repeated a key, its source's next files are searched first
    with _history_settings(con):
        while len(reports) < len(days):
            pending = days[len(reports) :]
            group: list[LoadReport] = []
            try:
                with transaction(con):
                    for day in pending:
                        report = _load_day(
                            con,
                            landing,
                            source,
                            day,
                            duckdb_reads_csv=duckdb_reads_csv,
                            grouped=True,
                            keys_first=keys_first,
                        )
                        keys_first = keys_first or report.keys_repeated
                        group.append(report)
                        if sum(r.rows_read for r in group) >= GROUP_ROWS:
                            break
            except Exception:  # undone: its days again, a transaction each, up to the one that failed
                for day in pending[: len(group) + 1]:
                    reports.append(load_day(con, landing, source, day, duckdb_reads_csv=duckdb_reads_csv))
                    loaded(reports[-1])
                continue
            for report in group:
                loaded(report)
            reports += group
    return reports


def _load_day(
    con: duckdb.DuckDBPyConnection,
    landing: str,
    source: str,
    day: date,
    *,
    duckdb_reads_csv: bool,
    grouped: bool,
    keys_first: bool = False,
) -> LoadReport:
    """`load_day` on a migrated warehouse; `grouped`: inside the caller's transaction (`load_days`);
    `keys_first`: DuckDB looks for repeated keys before it inserts (bulk.py)."""
    contract = CONTRACTS[source]
    listing = list_landing(landing, source, day)
    path = only_export(listing, source, day)
    # Files of later days are counted (the asset's `later_files_not_loaded`), not warned about: every
    # day of a history load sees all the days after it, and each is loaded on its own day.
    report = LoadReport(source=source, day=day, file=path, later_files=listing.later_files)
    if listing.misnamed:
        report.warnings.append(
            f"{source}: landing file(s) not named {source}_YYYY-MM-DD.csv|jsonl|parquet were ignored "
            f"({', '.join(listing.misnamed[:3])}{', ...' if len(listing.misnamed) > 3 else ''})"
        )
    if path is None:
        return report
    declared = declared_format(landing, source)  # None: the project's own contract
    keep = contract.names if declared is None else declared.format.fields_read
    tsv_columns = () if declared is None else declared.format.tsv_columns
    stored = _stored_rows(con, contract.source, day)
    with (
        open_export(landing, path, keep, tsv_columns) as export,
        staged_file(contract, day, path, datetime.now(UTC)) as staged,
    ):
        # CSV and Parquet headers are judged before any row is read; JSON Lines keys once all are.
        header_warnings = (
            _judge_header(export.columns, contract, declared, path) if export.columns is not None else None
        )
        plain = (
            _plain_csv(con, contract, day, export, keys_first)
            if declared is None and duckdb_reads_csv
            else None
        )
        load = _FileLoad(con, contract, day, export, staged, report, declared, grouped)
        try:
            tally, header_warnings = _load(load, plain, stored, header_warnings)
        except bulk.KeysRepeated:  # undone: read again, the repeated keys found first
            staged.clear()
            report.forget_rows()
            report.keys_repeated = True
            assert plain is not None  # only DuckDB's reading raises it
            plain.keys_first = True  # the same file and bytes: no second pass over them
            tally, header_warnings = _load(load, plain, stored, header_warnings)
        except bulk.NotPlain:  # undone: the Python reader reads the file from its first row
            staged.clear()
            report.forget_rows()
            tally, header_warnings = _load(load, None, stored, header_warnings)
        nulled = staged.values_set_to_null(con)
    report.unknown_values = unknown_values(con, contract, day)
    report.values_set_to_null = {f"{column}: {kind}": n for (column, kind), (n, _) in nulled.items()}
    report.warnings += (
        export.warnings + header_warnings + tally.warnings(path) + _nulled_warnings(path, nulled)
    )
    if report.rows_read == 0:
        report.warnings.append(f"{path}: the file has no data rows")
    return report


@contextmanager
def _history_settings(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """A history load's checkpoints spaced (HISTORY_CHECKPOINT_THRESHOLD) and compression methods skipped
    (HISTORY_SKIPPED_COMPRESSION); when the block ends the load's rows are checkpointed under them, and
    DuckDB's settings are back."""
    settings = {
        "checkpoint_threshold": HISTORY_CHECKPOINT_THRESHOLD,
        "disabled_compression_methods": HISTORY_SKIPPED_COMPRESSION,
    }
    before = {name: con.execute(f"select current_setting('{name}')").fetchone()[0] for name in settings}
    for name, value in settings.items():
        con.execute(f"set {name} = ?", [value])
    try:
        yield
        try:
            con.execute("checkpoint")
        except duckdb.Error:
            pass  # another transaction is open: its commit, or closing, checkpoints instead
    finally:
        for name, value in before.items():
            if name == "disabled_compression_methods" and not value:
                con.execute(f"reset {name}")  # DuckDB refuses an empty list
            else:
                con.execute(f"set {name} = ?", [value])


@dataclass
class _FileLoad:
    """One file's load: the warehouse, the file, where its judged rows wait and what they came to."""

    con: duckdb.DuckDBPyConnection
    contract: Contract
    day: date
    export: Export
    staged: StagedFile
    report: LoadReport
    declared: DeclaredFormat | None  # None: the project's own contract
    grouped: bool  # inside a history load's transaction (load_days), which undoes it on any error


def _load(
    load: _FileLoad, plain: bulk.PlainCsv | None, stored: int, header_warnings: list[str] | None
) -> tuple[_Tally, list[str]]:
    """Judge the file and replace its partition in one transaction (the history load's, when grouped); roll
    it all back on any error. With the tally, the header's warnings (`header_warnings`, or for JSON Lines
    its keys' once read)."""
    con, contract, day, staged, report = load.con, load.contract, load.day, load.staged, load.report
    path = load.export.path
    try:
        with nullcontext() if load.grouped else transaction(con):
            staged.clear_partition(con)
            tally = _judge(load, plain)
            if header_warnings is None:
                header_warnings = _judge_header(load.export.columns or [], contract, load.declared, path)
            if report.rows_loaded == 0 and stored:
                raise IngestError(
                    f"{path}: no loadable rows ({report.rows_read} read, {report.rows_quarantined} "
                    f"quarantined{tally.describe()}), but raw.{contract.source} already holds {stored} rows "
                    f"for {day}; they were kept (delete that partition by hand if the day really has no "
                    f"{contract.source})"
                )
            staged.publish(con)
    except duckdb.Error as err:
        # A DuckDB message can quote a value from the file: only its shape is kept.
        raise IngestError(
            f"{path}: load into raw.{contract.source} failed and was rolled back: {scrubbed(str(err), 400)}"
        ) from None
    report.read_by_duckdb = plain is not None
    return tally, header_warnings


def _judge_header(
    columns: list[str], contract: Contract, declared: DeclaredFormat | None, path: str
) -> list[str]:
    if declared is not None:
        return check_format_columns(columns, declared, path)
    try:
        return check_columns(columns, contract, path)
    except IngestError as err:  # a vendor's export in a folder that does not declare it
        raise IngestError(f"{err}{undeclared_hint(columns, contract.source)}") from None


@dataclass
class _Tally:
    """What the chunks of one file came to, merged into what a file read at once reports."""

    reasons: dict[tuple[str | None, str], list[int]] = field(default_factory=dict)  # [rows, first row]
    naive: dict[str, tuple[int, int]] = field(default_factory=dict)  # column -> (values, first row)
    other_warnings: dict[str, None] = field(default_factory=dict)
    column_order: list[str] = field(default_factory=list)

    def note(self, parsed: ParsedExport) -> None:
        self.other_warnings.update(dict.fromkeys(parsed.warnings))
        self.note_naive(parsed.naive_timestamps)

    def note_naive(self, naive: dict[str, tuple[int, int]]) -> None:
        for column, (count, first) in naive.items():
            total, earliest = self.naive.get(column, (0, first))
            self.naive[column] = (total + count, min(earliest, first))

    def count(self, report: LoadReport, quarantine: pd.DataFrame, forgotten: int) -> None:
        report.rows_quarantined += len(quarantine)
        report.rows_forgotten += forgotten
        if quarantine.empty:
            return
        kinds = quarantine["kind"].fillna(quarantine["reason"])
        for column, kind, row in zip(quarantine["column"], kinds, quarantine["row"], strict=True):
            tally = self.reasons.setdefault((column, kind), [0, int(row)])
            tally[0] += 1
            tally[1] = min(tally[1], int(row))
        report.quarantine_reasons = {
            f"{column or 'whole row'}: {kind}": rows for (column, kind), (rows, _) in self.reasons.items()
        }

    def warnings(self, path: str) -> list[str]:
        # In the contract's column order, however the file's rows came in chunks.
        naive = [
            naive_warning(path, column, *self.naive[column])
            for column in sorted(self.naive, key=self.column_order.index)
        ]
        return list(self.other_warnings) + naive

    def describe(self) -> str:
        """'; column C: reason: N rows, first at row R' for the most frequent reasons."""
        if not self.reasons:
            return ""
        ranked = sorted(self.reasons.items(), key=lambda item: (-item[1][0], item[1][1]))
        shown = [
            f"{f'column {column}' if column else 'whole row'}: {kind}: {rows} rows, first at row {first}"
            for (column, kind), (rows, first) in ranked[:REASONS_SHOWN]
        ]
        more = len(ranked) - REASONS_SHOWN
        return "; " + "; ".join(shown) + (f"; and {more} more reasons" if more > 0 else "")


def unknown_values(
    con: duckdb.DuckDBPyConnection, contract: Contract, day: date
) -> dict[str, dict[str, int]]:
    """Per column with a vocabulary, the loaded values outside it and their rows (lower-cased, as dbt
    staging reads them)."""
    found = {}
    for column in (c for c in contract.columns if c.vocabulary is not None):
        rows = con.execute(
            f'select lower("{column.name}"), count(*) from raw.{contract.source} '
            f'where _partition_date = ? and not list_contains(?, lower("{column.name}")) '
            "group by 1 order by 2 desc, 1",
            [day, sorted(column.vocabulary())],
        ).fetchall()
        found[column.name] = {value: int(n) for value, n in rows}
    return found


def unknown_values_phrases(source: str, unknown: dict[str, dict[str, int]]) -> list[str]:
    """Per column with values outside its vocabulary, the values with their rows, for a person at a
    terminal; a value that does not look like an identifier is counted, not shown."""
    phrases = []
    for column, counts in unknown.items():
        if counts:
            shown, hidden_values, hidden_rows = shown_values(counts)
            names = [f"{value} ({n:,})" for value, n in shown.items()]
            if hidden_values:
                names.append(f"{hidden_values} more not shown ({hidden_rows:,})")
            vocabulary = CONTRACTS[source].column(column).vocabulary_source
            phrases.append(f"{column} not in {vocabulary} (loaded, counted): {', '.join(names)}")
    return phrases


def _nulled_warnings(path: str, nulled: dict[tuple[str, str], tuple[int, int]]) -> list[str]:
    return [
        f"{path}: column {column!r}: {counted(n, 'value')} set to null, "
        f"{'its row' if n == 1 else 'their rows'} kept ({kind}; first at row {first})"
        for (column, kind), (n, first) in sorted(nulled.items())
    ]


def _judge(load: _FileLoad, plain: bulk.PlainCsv | None) -> _Tally:
    """Read and judge the file chunk by chunk, then find its duplicates across chunks.

    A plain CSV file in the contract's own columns is read by DuckDB (bulk.py): the rows it
    surely passes are inserted into the raw table as it typed them, and only the others are
    parsed here. A vendor format's chunk is first turned into the contract's columns
    (formats/convert.py).
    """
    con, contract, day, export, staged, report = (
        load.con,
        load.contract,
        load.day,
        load.export,
        load.staged,
        load.report,
    )
    declared = load.declared
    tally = _Tally(column_order=contract.names)

    def judge(read: pd.DataFrame) -> None:
        chunk = read if declared is None else to_canonical(read, declared.format)
        parsed = parse_export(chunk, contract, export.path, day, find_duplicates=False)
        good, quarantine, forgotten = drop_forgotten(con, parsed.good, parsed.quarantine)
        staged.add_rows(good)
        staged.add_quarantine(quarantine)
        report.rows_read += len(chunk)
        report.rows_loaded += len(good)
        tally.note(parsed)
        tally.count(report, quarantine[~quarantine["row_kept"]], forgotten)
        if contract.unique_key:
            kept = chunk["_source_row"].isin(good["_source_row"])
            columns = [*contract.names, "_source_row", "_source_line"]
            staged.keep_texts(
                _as_loaded(chunk.loc[kept].reindex(columns=columns, fill_value=None), quarantine)
            )

    if plain is not None:
        plain.check_quoted(con)
        inserted = plain.insert_sure_rows(con, staged.lineage)
        report.rows_read += inserted
        report.rows_loaded += inserted
        chunks = plain.rest(con, inserted)
    else:
        chunks = export.chunks()
    for read in _collecting_once_a_chunk(chunks):
        judge(read)
    if contract.unique_key and plain is not None and not plain.keys_first:
        if _an_inserted_row_shares_its_key(con, contract, day, staged):
            raise bulk.KeysRepeated()
    if contract.unique_key:
        _judge_repeated_keys(load, tally)
    if plain is not None:
        plain.verify_unchanged()
    return tally


def _judge_repeated_keys(load: _FileLoad, tally: _Tally) -> None:
    """Judge the rows whose key another row of the file shares together, as a file read at once judges
    them. All of them were parsed here: DuckDB's inserted rows share no key (bulk.KeysRepeated)."""
    con, contract, day, staged, report = load.con, load.contract, load.day, load.staged, load.report
    rows, hashes = _staged_rows_sharing_a_key(con, contract, staged)
    batches = -(-len(rows) // reader.CHUNK_ROWS)
    for batch in range(batches):  # whole key groups, about CHUNK_ROWS rows each
        chosen = set(rows[hashes % batches == batch].tolist())
        flagged = parse_export(staged.texts(chosen), contract, load.export.path, day).quarantine
        flagged = flagged[~flagged["row_kept"]]
        _, quarantine, forgotten = drop_forgotten(con, pd.DataFrame(), flagged)
        staged.drop(flagged["row"])
        staged.add_quarantine(quarantine)
        report.rows_loaded -= len(flagged)
        tally.count(report, quarantine, forgotten)


def _an_inserted_row_shares_its_key(
    con: duckdb.DuckDBPyConnection, contract: Contract, day: date, staged: StagedFile
) -> bool:
    """Whether a row DuckDB inserted shares its key's 64-bit hash with another row of the file, inserted
    or parsed (a shared hash may be a collision: the file is then only read again, as if it were not)."""
    key = f'"{contract.unique_key}"'
    keyed = [f"select hash({key}) as h from raw.{contract.source} where _partition_date = $day"]
    if staged.row_files:
        keyed.append(f"select hash({key}) from read_parquet($files) where {key} is not null")
    (found,) = con.execute(
        f"select count(*) from (select h from ({' union all '.join(keyed)}) group by h having count(*) > 1)",
        {"day": day, **({"files": staged.row_files} if staged.row_files else {})},
    ).fetchone()
    return bool(found)


def _staged_rows_sharing_a_key(
    con: duckdb.DuckDBPyConnection, contract: Contract, staged: StagedFile
) -> tuple[np.ndarray, np.ndarray]:
    """The staged rows whose key's 64-bit hash another staged row's shares: their numbers and the hash.
    A shared hash only makes a candidate; parse.py compares the keys themselves."""
    if not staged.row_files:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.uint64)
    key = f'"{contract.unique_key}"'
    found = con.execute(
        f"with keyed as (select hash({key}) as h, _source_row as row from read_parquet($files) "
        f"where {key} is not null) select row, h from keyed "
        "where h in (select h from keyed group by h having count(*) > 1)",
        {"files": staged.row_files},
    ).fetchnumpy()
    return np.asarray(found["row"], dtype=np.int64), np.asarray(found["h"], dtype=np.uint64)


def _plain_csv(
    con: duckdb.DuckDBPyConnection, contract: Contract, day: date, export: Export, keys_first: bool
) -> bulk.PlainCsv | None:
    """The file as DuckDB reads it, or None where the reader must read it (bulk.py).

    Only while nobody was ever erased: an erased person's rows are found by hashing values in
    Python (privacy.forget_list), which the rows DuckDB loads never pass through.
    """
    if not bulk.readable(export) or listed_keys(con):
        return None
    return bulk.plain_csv(export, contract, day, keys_first)  # type: ignore[arg-type]


def _as_loaded(texts: pd.DataFrame, quarantine: pd.DataFrame) -> pd.DataFrame:
    """Kept rows as read, with the values set to null emptied, as they were loaded: judged again
    for duplicates, they compare as a file read at once compares them."""
    nulled = quarantine[quarantine["row_kept"]]
    for column, rows in nulled.groupby("column")["row"]:
        texts.loc[texts["_source_row"].isin(rows), column] = None
    return texts


def _collecting_once_a_chunk(chunks: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """The chunks, with Python's cyclic garbage collector run once a chunk instead of whenever
    700 containers were allocated: reading a chunk allocates a list per row, which made the
    collector rescan every chunk's rows again and again (about a tenth of a load's CPU time).
    The young generations are collected after each chunk, so cyclic garbage does not pile up."""
    with _automatic_collection_paused():
        for chunk in chunks:
            yield chunk
            gc.collect(1)


@contextmanager
def _automatic_collection_paused() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def describe_quarantine(con: duckdb.DuckDBPyConnection, source: str, day: date, limit: int = 5) -> list[str]:
    """A few quarantined rows as 'file: row R, column C: reason' lines for the run log."""
    rows = con.execute(
        'select file, row, "column", reason, row_kept from raw.quarantine '
        "where source = ? and _partition_date = ? order by row, row_kept limit ?",
        [source, day, limit],
    ).fetchall()
    return [
        f"{file}: row {row}, "
        + (f"column {column}" if column else "whole row")
        + f": {reason}"
        + (" (value set to null, row kept)" if row_kept else "")
        for file, row, column, reason, row_kept in rows
    ]


def _stored_rows(con: duckdb.DuckDBPyConnection, source: str, day: date) -> int:
    rows = con.execute(f"select count(*) from raw.{source} where _partition_date = ?", [day]).fetchall()
    return int(rows[0][0])
