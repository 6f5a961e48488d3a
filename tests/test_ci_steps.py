"""CI (.ci/run) runs the tests, Dagster's check of the code location and the linters, and fails on any."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CI = ROOT / ".ci" / "run"


def test_ci_runs_the_tests_then_dg_check_defs_ruff_and_sqlfluff() -> None:
    # Guards the lints the issue asked CI to run besides the tests: dg check defs, ruff check, and a SQL
    # linter over the dbt project. The tests come first, so their summary line is always printed.
    steps = [line.split(maxsplit=1)[1] for line in CI.read_text().splitlines() if line.startswith("step ")]
    assert steps == [
        "python3 dev.py test",
        ".venv/bin/dg check defs",
        ".venv/bin/ruff check .",
        ".venv/bin/sqlfluff lint dbt_project",
    ]


def test_ci_runs_every_step_after_a_failure_and_exits_non_zero(tmp_path: Path) -> None:
    # Guards `set -e` stopping at the first failing step: a lint failure would hide the later ones, and a
    # failing test run would hide whether the lints pass. Each step here is a stand-in that only says
    # its name, the first one failing.
    script = CI.read_text().replace('cd "$(dirname "$0")/.."', f'cd "{tmp_path}"')
    (tmp_path / "run").write_text(script)
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for name, code in {"dg": 0, "ruff": 0, "sqlfluff": 1}.items():
        (bin_dir / name).write_text(f"#!/bin/sh\necho {name} ran\nexit {code}\n")
        (bin_dir / name).chmod(0o755)
    python3 = tmp_path / "python3_on_path"
    python3.mkdir()
    (python3 / "python3").write_text("#!/bin/sh\necho '== 1 failed, 9 passed in 1.00s =='\nexit 1\n")
    (python3 / "python3").chmod(0o755)
    env = {**os.environ, "PATH": f"{python3}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(["bash", str(tmp_path / "run")], env=env, capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        "==> python3 dev.py test",
        "== 1 failed, 9 passed in 1.00s ==",
        "==> .venv/bin/dg check defs",
        "dg ran",
        "==> .venv/bin/ruff check .",
        "ruff ran",
        "==> .venv/bin/sqlfluff lint dbt_project",
        "sqlfluff ran",
        "failed: python3 dev.py test",
        "failed: .venv/bin/sqlfluff lint dbt_project",
    ]
