"""The truth-check benchmark counts coverage and false winners the way its targets are stated.

The benchmark itself runs the real daily job for hours and is not run by the suite; these tests
read its summary code on hand-made closing tables, so a miscount (an interval judged on the wrong
columns, a seed counted twice) cannot hide behind a long run.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import pandas as pd
import pytest


@pytest.fixture(scope="module")
def bench(benchmark_module: Callable[[str], ModuleType]) -> ModuleType:
    return benchmark_module("truth_check.py")


def _row(seed: int, campaign: str, low: float, high: float, truth: float, decision: str, n: int = 50) -> dict:
    return {
        "seed": seed,
        "campaign_id": campaign,
        "comparison": "treatment_vs_holdout",
        "variant": "all",
        "baseline": "holdout",
        "n_variant": n,
        "n_baseline": n,
        "abs_lift": (low + high) / 2,
        "abs_ci_low": low,
        "abs_ci_high": high,
        "seq_ci_low": low - 0.1,
        "seq_ci_high": high + 0.1,
        "decision": decision,
        "true_lift": truth,
    }


def test_coverage_counts_intervals_that_hold_the_true_lift_among_judged_comparisons(bench) -> None:
    rows = pd.DataFrame(
        [
            _row(1, "cart", 0.01, 0.05, 0.03, "winner"),  # covered
            _row(2, "cart", 0.01, 0.05, 0.06, "winner"),  # missed
            _row(3, "cart", -0.02, 0.02, 0.0, "no difference yet"),  # covered
            _row(4, "cart", 0.0, 0.0, 0.5, "insufficient data", n=0),  # nobody on a side: not judged
        ]
    )
    lines = bench.summarize(rows, null_campaign="browse")
    assert "covers the true lift: 66.7% (2 of 3" in "\n".join(lines)
    assert "sequential confidence sequence covers it: 100.0% (3 judged)" in "\n".join(lines)


def test_a_null_campaign_counts_each_seed_once_whatever_its_comparisons_say(bench) -> None:
    rows = pd.DataFrame(
        [
            _row(1, "browse", -0.01, 0.01, 0.0, "winner"),
            _row(1, "browse", -0.01, 0.01, 0.0, "worse"),  # same seed: one false decision
            _row(2, "browse", -0.01, 0.01, 0.0, "no difference yet"),
            _row(3, "browse", -0.01, 0.01, 0.0, "check assignment (SRM)"),
            _row(4, "browse", -0.01, 0.01, 0.0, "insufficient data"),
        ]
    )
    lines = "\n".join(bench.summarize(rows, null_campaign="browse"))
    assert "declared in 1 of 4 seeds (25.0%" in lines
