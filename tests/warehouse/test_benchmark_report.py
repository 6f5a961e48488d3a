"""The warehouse benchmark judges the incremental day on medians of repeated runs.

One run of the day moves by 10% or more between runs on the same machine
(dbt_project/README.md), so the verdicts of benchmarks/build_warehouse.py use
the median of `--day-repeats` runs and its report names the models whose time
grows with history. These tests read its report code on hand-made runs; the
benchmark itself takes half an hour and is not run by the suite.
"""

from __future__ import annotations

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
