"""Fixtures for the churn tests: one synthetic warehouse built per session, copied per test."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from churn_world import RUN_DATE, load_world, synthetic_world
from threadpoolctl import threadpool_limits

from reengage.learning.churn import TrainedModel, TrainingConfig, train


@pytest.fixture(scope="session", autouse=True)
def single_threaded_numerics() -> Iterator[None]:
    """One OpenMP/BLAS thread: on a busy shared runner, oversubscribed gradient boosting
    slows from ~1 s to ~45 s per fit; results are identical either way."""
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="session")
def world_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A read-only template warehouse; copy it (see `warehouse`) before writing."""
    path = tmp_path_factory.mktemp("world") / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    try:
        load_world(con, synthetic_world())
    finally:
        con.close()
    return path


@pytest.fixture
def warehouse(world_db: Path, tmp_path: Path) -> Path:
    """A private, writable copy of the synthetic warehouse."""
    path = tmp_path / "warehouse.duckdb"
    shutil.copy(world_db, path)
    return path


@pytest.fixture
def con(warehouse: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect(str(warehouse))
    try:
        yield connection
    finally:
        connection.close()


@pytest.fixture(scope="session")
def trained(world_db: Path) -> TrainedModel:
    """The model trained once on the synthetic world (training is the slow part)."""
    con = duckdb.connect(str(world_db), read_only=True)
    try:
        return train(con, RUN_DATE, TrainingConfig())
    finally:
        con.close()
