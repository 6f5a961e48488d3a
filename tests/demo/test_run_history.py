"""The demo's run history skips fsync, and only the run history does."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import sqlalchemy as sa

from reengage_dev.demo.run_history import run_history_without_fsync

ROOT = Path(__file__).resolve().parents[2]
OFF, FULL = 0, 2


def _synchronous(path: Path) -> int:
    engine = sa.create_engine(f"sqlite:///{path}", poolclass=sa.pool.NullPool)
    with engine.connect() as con:
        return con.exec_driver_sql("pragma synchronous").scalar_one()


@dg.asset
def one_asset() -> int:
    return 1


def test_only_databases_under_the_dagster_home_skip_fsync_and_only_inside(tmp_path: Path) -> None:
    # Guards the demo's speed (Dagster's SQLite storage waited for the disk on every event: a
    # third of a daily run) without loosening any other database: the send ledger's must wait.
    home, elsewhere = tmp_path / "dagster_home", tmp_path / "elsewhere"
    home.mkdir()
    elsewhere.mkdir()
    shutil.copyfile(ROOT / "reengage" / "dagster.local.yaml", home / "dagster.yaml")
    instance = dg.DagsterInstance.from_config(str(home))
    with run_history_without_fsync(home):
        result = dg.materialize([one_asset], instance=instance)
        assert result.success
        stored = sorted(home.rglob("*.db"))
        assert stored, "the instance stored its runs in SQLite under the home"
        assert {_synchronous(db) for db in stored} == {OFF}
        assert _synchronous(elsewhere / "ledger.sqlite") == FULL
    assert {_synchronous(db) for db in stored} == {FULL}, "back to SQLite's default once outside"
    assert len(instance.get_run_records()) == 1
