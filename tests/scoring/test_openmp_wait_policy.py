"""The models' OpenMP threads sleep while they wait: spinning ones starve any process beside them.

Read from the OpenMP runtime scikit-learn loads, in a fresh process, as the daily job starts:
OMP_DISPLAY_ENV=verbose makes libgomp print how many times a waiting thread spins before it sleeps
(GOMP_SPINCOUNT: 300,000 by default, 0 when threads sleep at once). A policy the environment sets
is kept.
"""

from __future__ import annotations

import os
import subprocess
import sys

LOAD_THE_MODELS = "import reengage.learning.churn, reengage.learning.uplift.learner"


def spin_count(environment: dict[str, str]) -> int:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"} | environment
    shown = subprocess.run(
        [sys.executable, "-c", LOAD_THE_MODELS],
        env={**env, "OMP_DISPLAY_ENV": "verbose"},
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    lines = [line.strip() for line in shown.splitlines() if line.strip().startswith("GOMP_SPINCOUNT")]
    assert lines, f"the OpenMP runtime printed no spin count:\n{shown}"
    return int(lines[0].split("=", 1)[1].strip().strip("'"))


def test_the_models_openmp_threads_sleep_while_they_wait() -> None:
    assert spin_count({}) == 0


def test_a_wait_policy_of_the_environments_own_is_kept() -> None:
    assert spin_count({"OMP_WAIT_POLICY": "ACTIVE"}) > 0
