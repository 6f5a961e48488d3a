"""A file's judged rows, kept on disk until the whole file is judged, then published at once.

Each chunk's good and quarantined rows are written as Parquet files in a private folder
under the product's home; publishing replaces the day's partition from them in one
transaction, through DuckDB's own Parquet reader. That keeps memory flat whatever the
file's size: a transaction fed chunk by chunk from pandas holds every inserted row in
memory until it commits (measured: about 300 bytes a row), one fed by DuckDB's reader
does not. The good rows' text, as read, is kept too, so the few rows found to share a
key with another chunk's can be judged again without reading the export twice.

The folder is removed when the load ends, and a folder left by a load that crashed is
removed by the next load (it holds exported personal data). A check of exports that must leave
the home untouched (`reengage check-exports`) stages under its own folder (`staging_under`).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from reengage import settings
from reengage.defs.ingest.contracts import ColumnType, Contract
from reengage.defs.ingest.names import scrubbed
from reengage.defs.ingest.reader import NESTED_ATTR, NOT_UTF8_ATTR, NUL_ATTR, READ_COLUMNS, IngestError
from reengage.processes import process_exists

ARROW_TYPES: dict[ColumnType, pa.DataType] = {
    "text": pa.string(),
    "email": pa.string(),
    "phone": pa.string(),
    "timezone": pa.string(),
    "url": pa.string(),
    "currency": pa.string(),
    "timestamp": pa.timestamp("ns", tz="UTC"),
    "unix_timestamp": pa.timestamp("ns", tz="UTC"),
    "boolean": pa.bool_(),
    "double": pa.float64(),
    "date": pa.date32(),
}
LINEAGE = [
    ("_source_file", pa.string()),
    ("_source_row", pa.int64()),
    ("_partition_date", pa.date32()),
    ("_loaded_at", pa.timestamp("us", tz="UTC")),
]
QUARANTINE = pa.schema(
    [
        ("source", pa.string()),
        ("file", pa.string()),
        ("row", pa.int64()),
        ("column", pa.string()),
        ("reason", pa.string()),
        ("raw_record", pa.string()),
        ("row_kept", pa.bool_()),
        ("_partition_date", pa.date32()),
        ("_loaded_at", pa.timestamp("us", tz="UTC")),
        ("kind", pa.string()),  # the reason without its detail: counted, not published
    ]
)
# A staging folder is named `<source>-<pid>-<random>`: a dead pid means a load that crashed.
FOLDER = re.compile(r"[a-z_]+-(\d+)-.*")
# Where loads stage instead of the home's `ingest_staging`, while `staging_under` says so.
_STAGING_ROOT: ContextVar[Path | None] = ContextVar("staging_root", default=None)


class StagedFile:
    """The judged rows of one export for one partition, as Parquet files, until `publish`."""

    def __init__(self, folder: Path, contract: Contract, day: date, path: str, loaded_at: datetime) -> None:
        self._folder = folder
        self._path = path
        self._contract = contract
        self._lineage = {"_source_file": path, "_partition_date": day, "_loaded_at": loaded_at}
        self._quarantine_lineage = {"source": contract.source, "file": path} | {
            k: v for k, v in self._lineage.items() if k != "_source_file"
        }
        self._rows = pa.schema([(c.name, ARROW_TYPES[c.type]) for c in contract.columns] + LINEAGE)
        self._texts = pa.schema(
            [(name, pa.string()) for name in contract.names]
            + [("_source_row", pa.int64()), ("_source_line", pa.int64())]
        )
        self._files: dict[str, list[str]] = {"rows": [], "quarantine": [], "dropped": [], "texts": []}

    @property
    def lineage(self) -> dict[str, object]:
        """The file's lineage columns, the same for every row: _source_file, _partition_date, _loaded_at."""
        return dict(self._lineage)

    @property
    def row_files(self) -> list[str]:
        """The Parquet files of the kept good rows (typed contract columns + lineage + _source_row)."""
        return list(self._files["rows"])

    def clear(self) -> None:
        """Forget every staged row: the file is judged again from the start."""
        for files in self._files.values():
            for file in files:
                Path(file).unlink(missing_ok=True)
            files.clear()

    def add_rows(self, good: pd.DataFrame) -> None:
        """Keep good rows (typed contract columns + _source_row)."""
        if not good.empty:
            self._write("rows", good.assign(**self._lineage), self._rows)

    def add_quarantine(self, quarantine: pd.DataFrame) -> None:
        """Keep quarantined rows (row, column, reason, raw_record, row_kept, kind)."""
        if not quarantine.empty:
            self._write("quarantine", quarantine.assign(**self._quarantine_lineage), QUARANTINE)

    def keep_texts(self, rows: pd.DataFrame) -> None:
        """Keep good rows as read (text columns, _source_row, _source_line) for `texts`."""
        if not rows.empty:
            self._write("texts", rows.reindex(columns=self._texts.names, fill_value=None), self._texts)

    def texts(self, rows: set[int]) -> pd.DataFrame:
        """The kept good rows numbered `rows`, as the reader gave them, in file order (for parse_export)."""
        table = pq.read_table(self._files["texts"], schema=self._texts, filters=[("_source_row", "in", rows)])
        # In file order, as a file read at once is judged (its first row of a key is the first kept).
        table = table.sort_by("_source_row")
        frame = pd.DataFrame(
            {name: pd.Series(table[name].to_pylist(), dtype=object) for name in table.column_names}
        )
        for name in READ_COLUMNS:
            if name not in frame.columns:
                frame[name] = pd.Series([None] * len(frame), dtype=object)
        frame["_source_row"] = frame["_source_row"].astype("int64")
        # Good rows hold no bytes that are not UTF-8, no NUL and no nested value: nothing to look for.
        frame.attrs.update({NOT_UTF8_ATTR: False, NUL_ATTR: False, NESTED_ATTR: set()})
        return frame

    def drop(self, rows: pd.Series) -> None:
        """Good rows found to be duplicates after they were kept: not published, nor the values of
        theirs that were set to null (a refused row is in the quarantine for its refusal alone)."""
        if not rows.empty:
            self._write("dropped", pd.DataFrame({"row": rows}), pa.schema([("row", pa.int64())]))

    def clear_partition(self, con: duckdb.DuckDBPyConnection) -> None:
        """Delete the partition's rows and quarantine rows (caller's transaction, before `publish`)."""
        source, day = self._contract.source, self._lineage["_partition_date"]
        con.execute(f"delete from raw.{source} where _partition_date = ?", [day])
        con.execute("delete from raw.quarantine where source = ? and _partition_date = ?", [source, day])

    def publish(self, con: duckdb.DuckDBPyConnection) -> None:
        """Insert the staged rows and quarantine rows (caller's transaction, after `clear_partition`)."""
        source = self._contract.source
        if self._files["rows"]:
            keep = (
                "where _source_row not in (select row from read_parquet(?))" if self._files["dropped"] else ""
            )
            con.execute(
                f"insert into raw.{source} by name select * from read_parquet(?) {keep}",
                [self._files["rows"], *([self._files["dropped"]] if keep else [])],
            )
        if self._files["quarantine"]:
            published = self._published_quarantine()
            con.execute(
                f"insert into raw.quarantine by name select * exclude (kind) from ({published})",
                self._quarantine_parameters(),
            )

    def values_set_to_null(self, con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], tuple[int, int]]:
        """(column, reason without detail) -> (values set to null, first row) among the published rows."""
        if not self._files["quarantine"]:
            return {}
        rows = con.execute(
            f'select "column", kind, count(*), min(row) from ({self._published_quarantine()}) '
            "where row_kept group by all",
            self._quarantine_parameters(),
        ).fetchall()
        return {(column, kind): (int(n), int(first)) for column, kind, n, first in rows}

    def _published_quarantine(self) -> str:
        if not self._files["dropped"]:
            return "select * from read_parquet(?)"
        return (
            "select * from read_parquet(?) where not (row_kept and row in (select row from read_parquet(?)))"
        )

    def _quarantine_parameters(self) -> list[list[str]]:
        return [self._files["quarantine"], *([self._files["dropped"]] if self._files["dropped"] else [])]

    def _write(self, kind: str, frame: pd.DataFrame, schema: pa.Schema) -> None:
        target = self._folder / f"{kind}-{len(self._files[kind]):06d}.parquet"
        columns = frame[schema.names]
        columns.attrs = {}  # the reader's notes are not the file's data
        try:
            table = pa.Table.from_pandas(columns, schema=schema, preserve_index=False)
        except pa.ArrowException as err:  # its message quotes the value it could not convert
            raise IngestError(
                f"{self._path}: could not stage the parsed rows ({scrubbed(str(err))})"
            ) from None
        # Without dictionaries: unique keys and texts gain nothing from them, and writing is faster.
        pq.write_table(table, target, use_dictionary=False)
        self._files[kind].append(str(target))


@contextmanager
def staged_file(contract: Contract, day: date, path: str, loaded_at: datetime) -> Iterator[StagedFile]:
    root = _STAGING_ROOT.get() or settings.home() / "ingest_staging"
    root.mkdir(parents=True, exist_ok=True)
    _remove_crashed_loads(root)
    folder = Path(tempfile.mkdtemp(prefix=f"{contract.source}-{os.getpid()}-", dir=root))
    try:
        yield StagedFile(folder, contract, day, path, loaded_at)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def staging_under(root: Path) -> Iterator[None]:
    """Loads inside stage their rows under `root` instead of the product home."""
    token = _STAGING_ROOT.set(root)
    try:
        yield
    finally:
        _STAGING_ROOT.reset(token)


def _remove_crashed_loads(root: Path) -> None:
    for folder in root.iterdir():
        match = FOLDER.fullmatch(folder.name)
        if match and not process_exists(int(match.group(1))):
            shutil.rmtree(folder, ignore_errors=True)
