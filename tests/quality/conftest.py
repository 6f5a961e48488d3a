"""A temporary DuckDB warehouse with empty raw tables, and a loader that writes and closes."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import duckdb
import pytest
from quality_world import create_raw_tables, insert_rows


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    path = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    try:
        create_raw_tables(con)
    finally:
        con.close()
    return path


@pytest.fixture
def load(warehouse: Path) -> Callable[..., None]:
    """Write rows and close the connection, as an ingest step would before the checks run."""

    def _load(table: str, rows: Iterable[Mapping[str, Any]]) -> None:
        con = duckdb.connect(str(warehouse))
        try:
            insert_rows(con, table, rows)
        finally:
            con.close()

    return _load
