"""One synthetic warehouse with weeks of campaign history, built once per session."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from .measurement_world import RUN_DATE, build_world


@pytest.fixture(scope="session")
def world_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("measurement_world") / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    build_world(con, RUN_DATE)
    con.close()
    return path
