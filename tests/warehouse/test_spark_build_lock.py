"""One build at a time in a Spark home: a second waits, a crashed holder frees it, an erasure waits too.

No Spark here: the lock is the kernel's, taken by another process as a second build would.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from reengage.schema.migrations import migrate
from reengage.spark import build as spark_build
from reengage.spark import lock, raw_export
from reengage.spark.layout import SparkLayout

HOLD = """
import sys, time
from pathlib import Path
from reengage.spark.lock import one_build_at_a_time
with one_build_at_a_time(Path(sys.argv[1]), "run held-by-child"):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def hold_in_another_process(home: Path, seconds: float) -> subprocess.Popen:
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(home), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None and child.stdout.readline().strip() == "held"
    return child


def test_a_second_build_waits_for_the_first_and_says_for_whom(tmp_path: Path) -> None:
    child = hold_in_another_process(tmp_path, 3)
    said: list[str] = []
    try:
        with lock.one_build_at_a_time(tmp_path, "run second", said.append, wait_seconds=60):
            assert child.poll() is not None, "the lock was taken while the first build held it"
            assert "run second" in (tmp_path / lock.LOCK_FILE).read_text()
    finally:
        child.wait(timeout=30)
    assert len(said) == 1 and "run held-by-child, pid" in said[0]
    assert (tmp_path / lock.LOCK_FILE).read_text() == ""  # the holder is cleared on release


def test_a_build_that_waited_too_long_fails_naming_the_holder(tmp_path: Path) -> None:
    child = hold_in_another_process(tmp_path, 60)
    try:
        with (
            pytest.raises(lock.SparkHomeBusy, match=r"still building for run held-by-child, pid \d+"),
            lock.one_build_at_a_time(tmp_path, "run second", wait_seconds=0.5),
        ):
            pytest.fail("the lock was taken while another build held it")
    finally:
        child.kill()
        child.wait(timeout=30)


def test_a_killed_build_leaves_the_spark_home_free(tmp_path: Path) -> None:
    child = hold_in_another_process(tmp_path, 60)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    said: list[str] = []
    started = time.monotonic()
    with lock.one_build_at_a_time(tmp_path, "run after the crash", said.append, wait_seconds=5):
        pass
    assert said == [] and time.monotonic() - started < 5


def test_an_erasure_never_discards_the_tables_under_a_running_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "spark"
    monkeypatch.setattr(spark_build, "spark_layout", lambda: SparkLayout(home))
    layout = SparkLayout(home)
    built = (layout.warehouse, layout.metastore, layout.raw, layout.stages)
    for folder in built:
        (folder / "kept").mkdir(parents=True)
    monkeypatch.setattr(lock, "WAIT_SECONDS", 0.5)
    child = hold_in_another_process(home, 60)
    try:
        with pytest.raises(lock.SparkHomeBusy):
            spark_build.discard_built_tables()
        assert all((folder / "kept").exists() for folder in built)
    finally:
        child.kill()
        child.wait(timeout=30)
    assert sorted(spark_build.discard_built_tables()) == sorted(str(folder) for folder in built)
    assert not layout.raw.exists() and not layout.stages.exists()


def test_the_raw_export_by_hand_never_writes_under_a_running_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "spark"
    warehouse = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(warehouse))
    migrate(con)
    con.close()
    monkeypatch.setenv("REENGAGE_SPARK_HOME", str(home))
    monkeypatch.setattr(lock, "WAIT_SECONDS", 0.5)
    child = hold_in_another_process(home, 60)
    try:
        with pytest.raises(lock.SparkHomeBusy):
            raw_export.main(["--warehouse", str(warehouse)])
        assert not SparkLayout(home).raw.exists()
    finally:
        child.kill()
        child.wait(timeout=30)
    assert raw_export.main(["--warehouse", str(warehouse)]) == 0
    assert "raw/events: 0 rows" in capsys.readouterr().out
