"""A dbt process whose events could not be read is ended before the build's retry starts another."""

from __future__ import annotations

import signal
import subprocess
import sys

from reengage.defs.warehouse.assets import stop_dbt


def sleeping_child(sigterm: str) -> subprocess.Popen:
    """A process that sleeps with SIGTERM set to `sigterm` (SIG_DFL or SIG_IGN), once it says so:
    sent before, a SIGTERM would meet the ignored one a test worker may pass on."""
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import signal, time; signal.signal(signal.SIGTERM, signal.{sigterm}); "
            "print('ready', flush=True); time.sleep(120)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    child.stdout.close()
    return child


def test_a_running_dbt_is_terminated_and_one_that_ignores_it_is_killed():
    # Guards the retry of the dbt step: a dbt left running holds the DuckDB file's lock (or Spark's
    # metastore), and the retry's dbt would fail on it, every retry.
    polite = sleeping_child("SIG_DFL")  # SIGTERM as a dbt started by Dagster has it
    stop_dbt(polite, grace_seconds=30)
    assert polite.returncode == -signal.SIGTERM

    stubborn = sleeping_child("SIG_IGN")
    stop_dbt(stubborn, grace_seconds=1)
    assert stubborn.returncode == -signal.SIGKILL
