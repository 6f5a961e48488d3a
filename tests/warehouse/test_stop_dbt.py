"""A dbt process whose events could not be read is ended before the build's retry starts another."""

from __future__ import annotations

import signal
import subprocess
import sys

from reengage.defs.warehouse.assets import stop_dbt


def test_a_running_dbt_is_terminated_and_one_that_ignores_it_is_killed():
    # Guards the retry of the dbt step: a dbt left running holds the DuckDB file's lock (or Spark's
    # metastore), and the retry's dbt would fail on it, every retry.
    # SIGTERM as a dbt started by Dagster has it (a test worker may pass it on ignored), and only
    # once the child says so: sent before, it would meet the ignored one and wait for the kill.
    polite = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_DFL); "
            "print('ready', flush=True); time.sleep(120)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert polite.stdout.readline().strip() == "ready"
    stop_dbt(polite, grace_seconds=30)
    assert polite.returncode == -signal.SIGTERM
    polite.stdout.close()

    stubborn = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "print('ready', flush=True); time.sleep(120)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert stubborn.stdout.readline().strip() == "ready"
    stop_dbt(stubborn, grace_seconds=1)
    assert stubborn.returncode == -signal.SIGKILL
    stubborn.stdout.close()
