"""Reading the table a command judges: a CSV or Parquet file, or one error line naming the file."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

READERS = {".csv": pd.read_csv, ".parquet": pd.read_parquet, ".pq": pd.read_parquet}


class TableFileError(ValueError):
    """The file cannot be read as a table; the message starts with its path."""


def read_table(path: Path) -> pd.DataFrame:
    """A CSV or Parquet file as a frame, or TableFileError naming the file and why."""
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise TableFileError(f"{path}: unsupported file type {path.suffix!r} (use .csv or .parquet)")
    if not path.is_file():
        raise TableFileError(f"{path}: no such file")
    try:
        return reader(path)
    except (ValueError, OSError) as error:  # pandas' parser errors are ValueErrors; pyarrow's are too
        raise TableFileError(f"{path}: cannot be read: {error}") from error
