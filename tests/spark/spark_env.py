"""Spark for the tests, installed by the project's own script.

scripts/spark.sh installs Java 17 (Debian's openjdk-17-jre-headless) when none is found and the
pinned dbt-spark and pyspark (requirements-spark.lock) into the environment running the tests,
then prints the environment dbt's `spark` profile needs. When that fails the calling test fails:
Spark tests are never skipped.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.warehouse.conftest import DbtResult, run_dbt

SPARK_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "spark.sh"
MARKER = "spark: builds the dbt project on Apache Spark (scripts/spark.sh installs it)"
SPARK_VARIABLES = (
    "JAVA_HOME",
    "REENGAGE_SPARK_DBT",
    "REENGAGE_SPARK_HOME",
    "REENGAGE_SPARK_MASTER",
    "REENGAGE_SPARK_DRIVER_MEMORY",
    "REENGAGE_SPARK_THREADS",
)


def run_script(command: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SPARK_SCRIPT), command, sys.executable],
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,  # a first apt-get install of Java and a build of pyspark
        check=False,
    )


def exports(stdout: str) -> dict[str, str]:
    found = {}
    for line in stdout.splitlines():
        if line.startswith("export ") and "=" in line:
            key, _, value = line.removeprefix("export ").partition("=")
            found[key] = shlex.split(value)[0]
    return found


def spark_environment(spark_home: Path) -> dict[str, str]:
    """The variables a dbt run on Spark needs, with its warehouse in `spark_home`; installs what is
    missing first (the script checks before it installs)."""
    env = {**os.environ, "REENGAGE_SPARK_HOME": str(spark_home)}
    installed = run_script("install", env)
    if installed.returncode != 0:
        pytest.fail(
            "scripts/spark.sh could not install Java or dbt-spark "
            f"(exit {installed.returncode}); the Spark tests cannot run:\n{installed.stderr[-3000:]}",
            pytrace=False,
        )
    spark_env = exports(installed.stdout)
    assert set(SPARK_VARIABLES) <= set(spark_env), installed.stdout
    assert spark_env["REENGAGE_SPARK_HOME"] == str(spark_home)
    return spark_env


def run_dbt_on_spark(
    args: list[str],
    warehouse: Path,
    work_dir: Path,
    spark_env: dict[str, str],
    run_date: str,
    *,
    timeout: float,
) -> DbtResult:
    """dbt on the `spark` target for `run_date`, through tests/spark/dbt_on_spark.py run by the Spark
    environment's python (the one beside its dbt; pyspark is never in the product's environment,
    scripts/spark.sh says why), which writes the views' rows to `<work_dir>/views`."""
    python = Path(spark_env["REENGAGE_SPARK_DBT"]).with_name("python")
    return run_dbt(
        args,
        warehouse,
        work_dir,
        target="spark",
        extra_env={**spark_env, "REENGAGE_RUN_DATE": run_date},
        command=[str(python), str(Path(__file__).with_name("dbt_on_spark.py")), str(work_dir / "views")],
        timeout=timeout,
    )
