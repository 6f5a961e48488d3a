"""Crash points do nothing in production: only test code arms one, never the environment."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from crash_driver import ENV_VAR

PASS_THROUGH = (
    "from reengage.defs.delivery import crashpoints\n"
    "{arm}"
    "crashpoints.crashpoint('after_post_ok')\n"
    "print('still running')\n"
)


def run_point(arm: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, ENV_VAR: "after_post_ok"}
    code = PASS_THROUGH.format(arm=arm)
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)


def test_an_unarmed_crash_point_does_nothing_even_when_the_crash_variable_is_set() -> None:
    # Guards production code against arming itself: the crash points read REENGAGE_CRASH_AT at
    # import, so a stray variable in a deployment's environment killed the sender mid-delivery.
    done = run_point(arm="")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "still running"


def test_a_point_armed_by_test_code_kills_the_process_there() -> None:
    # Guards the crash suite itself: arming from test code must still kill at the named point.
    done = run_point(arm="crashpoints.arm('after_post_ok')\n")
    assert done.returncode == -signal.SIGKILL
    assert "still running" not in done.stdout
