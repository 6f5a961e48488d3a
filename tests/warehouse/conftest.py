"""One real `dbt build` of the whole project over a hand-written raw warehouse.

dbt takes seconds to start, so the build runs once per test session and every
test reads its outputs; tests that need another dbt command run it against
the same temporary project state.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pytest

from .raw_world import RUN_DATE, create_raw_warehouse

DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "postgres: builds the dbt project on a real PostgreSQL server (scripts/postgres.sh)"
    )


def dbt_executable() -> str:
    beside_python = Path(sys.executable).with_name("dbt")
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("dbt")
    if found is None:
        pytest.skip("dbt is not installed in this environment")
    return found


@dataclass
class DbtResult:
    """What one dbt command did: exit code, structured log events, artifacts folder."""

    returncode: int
    events: list[dict[str, Any]]
    target_path: Path
    messages: list[str] = field(default_factory=list)
    # read at once: a later command in the same target folder overwrites the file
    run_results: dict[str, Any] = field(default_factory=dict)

    def events_at_level(self, level: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("info", {}).get("level") == level]

    def explain(self) -> str:
        return "\n".join(self.messages[-60:])

    def statuses(self) -> dict[str, str]:
        return {r["unique_id"]: r["status"] for r in self.run_results.get("results", [])}

    def not_passed(self) -> dict[str, str]:
        """The nodes that neither succeeded nor passed; exposures (the Python stages reading the
        warehouse, models/exposures.yml) have nothing to run and are listed as no-op."""
        return {
            node: status
            for node, status in self.statuses().items()
            if status not in ("success", "pass") and not (node.startswith("exposure.") and status == "no-op")
        }


def run_dbt(
    args: list[str],
    warehouse: Path,
    work_dir: Path,
    *,
    target: str = "dev",
    extra_env: dict[str, str] | None = None,
    project_dir: Path = DBT_PROJECT_DIR,
    command: list[str] | None = None,
    timeout: float = 300,
) -> DbtResult:
    """Run the real dbt CLI on the project (or a copy of it), with artifacts and logs in `work_dir`.

    `command` replaces the dbt executable (a program taking dbt's arguments, tests/spark/dbt_on_spark.py).
    """
    target_path = work_dir / "target"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DBT_")}
    env.pop("REENGAGE_DBT_TARGET", None)
    env["REENGAGE_WAREHOUSE"] = str(warehouse)
    env.update(extra_env or {})
    completed = subprocess.run(
        [
            *(command or [dbt_executable()]),
            "--log-format",
            "json",
            "--no-use-colors",
            *args,
            "--project-dir",
            str(project_dir),
            "--profiles-dir",
            str(project_dir),
            "--target",
            target,
            "--target-path",
            str(target_path),
            "--log-path",
            str(work_dir / "logs"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    events: list[dict[str, Any]] = []
    messages: list[str] = []
    for line in completed.stdout.splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            messages.append(line)
            continue
        events.append(event)
        messages.append(event.get("info", {}).get("msg", ""))
    messages.extend(completed.stderr.splitlines())
    run_results_file = target_path / "run_results.json"
    run_results = json.loads(run_results_file.read_text()) if run_results_file.exists() else {}
    return DbtResult(completed.returncode, events, target_path, messages, run_results)


@dataclass
class BuiltWarehouse:
    path: Path
    work_dir: Path
    build: DbtResult

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        con = duckdb.connect(str(self.path), read_only=True)
        try:
            con.execute("set timezone = 'UTC'")
            return con.execute(sql, params or []).fetchall()
        finally:
            con.close()

    def rows_by_key(self, table: str, key: str = "customer_id") -> dict[Any, dict[str, Any]]:
        con = duckdb.connect(str(self.path), read_only=True)
        try:
            cursor = con.execute(f"select * from {table}")
            columns = [d[0] for d in cursor.description]
            return {
                row[columns.index(key)]: dict(zip(columns, row, strict=True)) for row in cursor.fetchall()
            }
        finally:
            con.close()


@pytest.fixture(scope="session")
def built_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BuiltWarehouse]:
    work_dir = tmp_path_factory.mktemp("dbt_build")
    warehouse = work_dir / "warehouse.duckdb"
    create_raw_warehouse(warehouse)
    build = run_dbt(["build", "--vars", json.dumps({"run_date": RUN_DATE})], warehouse, work_dir)
    yield BuiltWarehouse(path=warehouse, work_dir=work_dir, build=build)
