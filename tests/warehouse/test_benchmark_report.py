"""The warehouse benchmark judges the incremental day on medians of repeated runs.

One run of the day moves by 10% or more between runs on the same machine
(dbt_project/README.md), so the verdicts of benchmarks/build_warehouse.py use
the median of `--day-repeats` runs and its report names the models whose time
grows with history. With `--engines duckdb,spark` it sets the same builds on
Spark beside DuckDB's, Spark's peak memory counting the Java process dbt starts.
These tests read its report code on hand-made runs, and its memory sampling on
real processes; the benchmark itself takes half an hour and is not run by the
suite.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from types import ModuleType

import pytest


@pytest.fixture(scope="module")
def bench(benchmark_module: Callable[[str], ModuleType]) -> ModuleType:
    return benchmark_module("build_warehouse.py")


def _run(bench: ModuleType, seconds: float, models: dict[str, float]) -> object:
    step = bench.Step("day", seconds, peak_bytes=0)
    step.nodes = [
        {"id": f"model.reengage.{name}", "kind": "model", "status": "success", "seconds": s, "peak": 0}
        for name, s in models.items()
    ] + [{"id": "test.reengage.unique_x", "kind": "test", "status": "pass", "seconds": 9.0, "peak": 0}]
    return step


def test_the_day_is_judged_on_the_median_run_not_the_last(bench: ModuleType) -> None:
    days = bench.DayRuns("incremental day")
    for seconds in (49.4, 71.0, 50.9):
        days.steps.append(_run(bench, seconds, {}))
    assert days.median_seconds == 50.9


def test_model_medians_are_per_model_and_ignore_tests(bench: ModuleType) -> None:
    days = bench.DayRuns("incremental day")
    days.steps = [
        _run(bench, 50, {"int_events_stitched": 7.0, "fct_user_features": 3.6}),
        _run(bench, 51, {"int_events_stitched": 9.4, "fct_user_features": 4.2}),
        _run(bench, 52, {"int_events_stitched": 6.5, "fct_user_features": 3.5}),
    ]
    assert days.median_model_seconds() == {"int_events_stitched": 7.0, "fct_user_features": 3.6}


def test_history_growth_lists_the_models_that_grow_most_first(
    bench: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    long_days = bench.DayRuns("60 days", [_run(bench, 53, {"a": 7.0, "b": 3.6, "c": 5.8})])
    short_days = bench.DayRuns("14 days", [_run(bench, 40, {"a": 4.0, "b": 3.7, "c": 3.7})])
    bench.print_history_growth(long_days, short_days, top=2)
    lines = [line.split() for line in capsys.readouterr().out.splitlines() if line.startswith("   ")]
    assert lines == [["a", "7.00", "4.00", "+3.00"], ["c", "5.80", "3.70", "+2.10"]]


# ----------------------------------------------------------------------------- DuckDB beside Spark


def _spark_runs(bench: ModuleType, full: object, days: list[object]) -> object:
    engine = bench.Engine(
        "Spark",
        "dbt",
        "spark",
        {
            "REENGAGE_SPARK_MASTER": "local[2]",
            "REENGAGE_SPARK_DRIVER_MEMORY": "2g",
            "REENGAGE_SPARK_THREADS": "1",
        },
        process_tree=True,
    )
    return bench.SparkRuns(engine, {"full build": 3.0}, full, bench.DayRuns("Spark day", days))


def test_engines_side_by_side_take_the_day_medians_and_the_highest_peak(bench: ModuleType) -> None:
    duck_full = bench.Step("full", 60.0, peak_bytes=1000)
    duck_days = bench.DayRuns(
        "day", [bench.Step("d", s, peak_bytes=p) for s, p in ((20.0, 500), (30.0, 700), (22.0, 600))]
    )
    spark = _spark_runs(
        bench,
        bench.Step("full", 600.0, peak_bytes=3000),
        [bench.Step("d", 200.0, peak_bytes=2500), bench.Step("d", 260.0, peak_bytes=2400)],
    )
    assert bench.engine_rows(duck_full, duck_days, spark) == [
        ("full build (--full-refresh)", 60.0, 1000, 600.0, 3000),
        ("incremental day (medians of 3 / 2)", 22.0, 700, 230.0, 2500),
    ]


def test_a_spark_build_that_failed_leaves_its_day_empty_not_a_made_up_figure(
    bench: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    duck_full = _run(bench, 60.0, {"int_events_stitched": 9.0})
    duck_days = bench.DayRuns("day", [_run(bench, 20.0, {"int_events_stitched": 2.0})])
    failed = _run(bench, 90.0, {"int_events_stitched": 80.0})
    failed.returncode = 1
    spark = _spark_runs(bench, failed, [])
    assert bench.engine_rows(duck_full, duck_days, spark)[1][3:] == (None, None)
    bench.print_engines(duck_full, duck_days, spark)
    out = capsys.readouterr().out
    assert "incremental day (medians of 1 / 0)" in out
    assert "the 1 slowest models on Spark, full build" in out
    assert "incremental day, medians (seconds)" not in out


def test_the_slowest_models_on_spark_come_first_with_duckdbs_seconds(bench: ModuleType) -> None:
    spark_models = {"stg_a": 3.0, "int_b": 40.0, "fct_c": 12.0, "only_on_spark": 20.0}
    duck_models = {"stg_a": 0.5, "int_b": 8.0, "fct_c": 1.0}
    assert bench.slowest_on_spark(spark_models, duck_models, top=3) == [
        ("int_b", 40.0, 8.0),
        ("only_on_spark", 20.0, None),
        ("fct_c", 12.0, 1.0),
    ]


# A parent process whose child holds 64 MiB, touched so that it is resident; the parent prints the
# child's pid once the child holds it, then both wait to be ended.
PARENT_OF_A_LARGE_CHILD = """
import subprocess, sys, time
holder = "import time; block = b'x' * (64 * 2**20); print('ready', flush=True); time.sleep(120)"
child = subprocess.Popen([sys.executable, "-c", holder], stdout=subprocess.PIPE, text=True)
child.stdout.readline()
print(child.pid, flush=True)
time.sleep(120)
"""
MIB = 2**20


def test_memory_of_a_process_tree_counts_the_child_the_process_started(bench: ModuleType) -> None:
    """dbt on Spark starts Spark's Java process: a peak of dbt's process alone would leave it out."""
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT_OF_A_LARGE_CHILD], stdout=subprocess.PIPE, text=True
    )
    child_pid = 0
    try:
        child_pid = int(parent.stdout.readline())
        assert bench.process_tree(parent.pid) == [parent.pid, child_pid]
        parent_alone = bench.resident_bytes(parent.pid)
        assert parent_alone < 64 * MIB
        assert bench.tree_resident_bytes(parent.pid) >= parent_alone + 64 * MIB
        with bench.RssSampler(parent.pid, interval=0.05, tree=True) as tree_sampler:
            time.sleep(0.3)
        with bench.RssSampler(parent.pid, interval=0.05) as alone_sampler:
            time.sleep(0.3)
        assert tree_sampler.peak >= 64 * MIB > alone_sampler.peak > 0
    finally:
        for pid in (child_pid, parent.pid):
            if pid:
                os.kill(pid, signal.SIGKILL)
        parent.wait()
    with pytest.raises(ProcessLookupError):
        bench.tree_resident_bytes(parent.pid)
