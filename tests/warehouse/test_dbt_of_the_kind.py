"""Which dbt the pipeline starts on each warehouse kind, and what it hands that dbt.

On spark the dbt is the Spark environment's (the spark.dbt setting), for the parse when the code
location loads and for the build alike, with the profile's Spark settings in its environment. Here a
small program stands in for that dbt and records its command line and environment: what is under
test is which program the pipeline starts and with what, not dbt. The real dbt-spark parsing the
project as the code location loads is tests/spark/test_spark_code_location.py.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from dagster_dbt import DbtProject

from reengage import settings
from reengage.defs.resources import resources
from reengage.defs.warehouse.assets import dbt_env
from reengage.defs.warehouse.dbt_cli import DbtRuntimeMissing, dbt_environment, dbt_executable
from reengage.defs.warehouse.project import ensure_manifest

PRODUCT_DBT = str(Path(sys.executable).with_name("dbt"))
SETUP = re.escape("run scripts/spark.sh install and export what `scripts/spark.sh env` prints")
SPARK_PROFILE_VARIABLES = (
    "REENGAGE_SPARK_HOME",
    "REENGAGE_SPARK_MASTER",
    "REENGAGE_SPARK_DRIVER_MEMORY",
    "REENGAGE_SPARK_THREADS",
)


def recording_dbt(folder: Path) -> Path:
    """A program taking dbt's place: it appends its argv and environment to calls.jsonl beside its
    folder and writes a manifest into its --target-path, as `dbt parse` does."""
    program = folder / "spark-env" / "bin" / "dbt"
    program.parent.mkdir(parents=True)
    program.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        "from pathlib import Path\n"
        "args = sys.argv[1:]\n"
        'target = Path(args[args.index("--target-path") + 1])\n'
        "target.mkdir(parents=True, exist_ok=True)\n"
        "(target / 'manifest.json').write_text('{}')\n"
        f"with open({str(folder / 'calls.jsonl')!r}, 'a') as out:\n"
        "    out.write(json.dumps({'argv': sys.argv, 'env': dict(os.environ)}) + '\\n')\n"
    )
    program.chmod(0o755)
    return program


def calls(folder: Path) -> list[dict[str, Any]]:
    recorded = folder / "calls.jsonl"
    return [json.loads(line) for line in recorded.read_text().splitlines()] if recorded.exists() else []


def spark_settings_file(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """warehouse_kind spark with every Spark setting in reengage.toml, none in the environment: what
    reaches dbt then comes from the pipeline, not from a variable the child inherits anyway."""
    path = folder / "reengage.toml"
    path.write_text(
        'warehouse_kind = "spark"\n\n'
        "[spark]\n"
        'dbt = "spark-env/bin/dbt"\n'
        'home = "spark-home"\n'
        'master = "local[3]"\n'
        'driver_memory = "3g"\n'
        "threads = 4\n"
    )
    monkeypatch.setenv(settings.SETTINGS_FILE_VAR, str(path))


def test_duckdb_and_postgres_run_the_dbt_beside_the_products_python(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("REENGAGE_SPARK_DBT", str(recording_dbt(tmp_path)))  # set, and not theirs
    for kind in ("duckdb", "postgres"):
        monkeypatch.setenv("REENGAGE_WAREHOUSE_KIND", kind)
        assert dbt_executable() == PRODUCT_DBT
        assert resources().resources["dbt"].dbt_executable == PRODUCT_DBT
        assert dbt_environment(runs_models=True) == {}


def test_spark_runs_the_spark_environments_dbt_for_the_parse_and_the_build(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    spark_dbt = recording_dbt(tmp_path)
    monkeypatch.setenv("REENGAGE_WAREHOUSE_KIND", "spark")
    monkeypatch.setenv("REENGAGE_SPARK_DBT", str(spark_dbt))
    assert dbt_executable() == str(spark_dbt)
    assert resources().resources["dbt"].dbt_executable == str(spark_dbt)
    # dbt's target decides, whatever the Python stages are set to read (they refuse the disagreement
    # when a run opens the warehouse, not while the code location loads)
    monkeypatch.delenv("REENGAGE_WAREHOUSE_KIND")
    monkeypatch.setenv("REENGAGE_DBT_TARGET", "spark")
    assert dbt_executable() == str(spark_dbt)


def test_spark_without_the_spark_environments_dbt_says_how_to_get_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("REENGAGE_WAREHOUSE_KIND", "spark")
    with pytest.raises(DbtRuntimeMissing, match=rf"spark.dbt \(REENGAGE_SPARK_DBT\) is unset: {SETUP}"):
        dbt_executable()
    with pytest.raises(DbtRuntimeMissing, match="REENGAGE_SPARK_DBT"):
        resources()  # the code location does not load with the product's dbt instead
    not_a_program = tmp_path / "dbt"
    not_a_program.write_text("#!/bin/sh\n")
    for wrong in (not_a_program, tmp_path / "missing" / "dbt", tmp_path):
        monkeypatch.setenv("REENGAGE_SPARK_DBT", str(wrong))
        with pytest.raises(
            DbtRuntimeMissing,
            match=rf"^{re.escape(f'REENGAGE_SPARK_DBT={wrong}')} is not an executable file: {SETUP}$",
        ):
            dbt_executable()


def test_the_parse_on_spark_starts_the_spark_dbt_with_the_profiles_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Guards the code location failing to load on spark: its parse ran the product's dbt (no spark
    # adapter), and without the REENGAGE_SPARK_* variables the profile cannot even be parsed.
    spark_dbt = recording_dbt(tmp_path)
    spark_settings_file(tmp_path, monkeypatch)
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "no-java"))  # a parse starts no Spark: no Java needed
    project = DbtProject(
        project_dir=settings.DBT_PROJECT_DIR,
        profiles_dir=settings.DBT_PROJECT_DIR,
        target_path=tmp_path / "parse",
    )
    environment_before = dict(os.environ)
    manifest = ensure_manifest(project)
    assert manifest == tmp_path / "parse" / "manifest.json" and manifest.exists()
    (parse,) = calls(tmp_path)
    assert parse["argv"][:2] == [str(spark_dbt), "parse"]
    assert parse["argv"][parse["argv"].index("--target-path") + 1] == str(tmp_path / "parse")
    assert {name: parse["env"].get(name) for name in SPARK_PROFILE_VARIABLES} == {
        "REENGAGE_SPARK_HOME": str(tmp_path / "spark-home"),
        "REENGAGE_SPARK_MASTER": "local[3]",
        "REENGAGE_SPARK_DRIVER_MEMORY": "3g",
        "REENGAGE_SPARK_THREADS": "4",
    }
    assert parse["env"]["REENGAGE_WAREHOUSE"] == str(settings.warehouse_path())
    assert dict(os.environ) == environment_before, "the parse's variables leaked into this process"
    ensure_manifest(project)
    assert len(calls(tmp_path)) == 1, "a current manifest was parsed again"


def test_the_build_on_spark_has_the_profiles_settings_only_while_dbt_starts(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    recording_dbt(tmp_path)
    spark_settings_file(tmp_path, monkeypatch)
    java_home = tmp_path / "jdk"
    (java_home / "bin").mkdir(parents=True)
    (java_home / "bin" / "java").write_text("#!/bin/sh\n")
    (java_home / "bin" / "java").chmod(0o755)
    monkeypatch.setenv("JAVA_HOME", str(java_home))
    with dbt_env(tmp_path / "warehouse.duckdb", "2026-01-08", "2026-01-10"):
        started_with = dict(os.environ)
    assert {name: started_with.get(name) for name in SPARK_PROFILE_VARIABLES} == {
        "REENGAGE_SPARK_HOME": str(tmp_path / "spark-home"),
        "REENGAGE_SPARK_MASTER": "local[3]",
        "REENGAGE_SPARK_DRIVER_MEMORY": "3g",
        "REENGAGE_SPARK_THREADS": "4",
    }
    assert (started_with["REENGAGE_RUN_DATE"], started_with["REENGAGE_START_DATE"]) == (
        "2026-01-10",
        "2026-01-08",
    )
    assert started_with["JAVA_HOME"] == str(java_home)
    assert not set(SPARK_PROFILE_VARIABLES) & set(os.environ), "left set for whatever starts next"


def test_a_spark_build_without_java_stops_before_dbt_starts_and_says_how_to_get_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    recording_dbt(tmp_path)
    spark_settings_file(tmp_path, monkeypatch)
    monkeypatch.delenv("JAVA_HOME", raising=False)
    path = tmp_path / "path"
    path.mkdir()
    monkeypatch.setenv("PATH", str(path))
    environment_before = dict(os.environ)
    with pytest.raises(DbtRuntimeMissing, match=rf"JAVA_HOME is unset and no java is on PATH: {SETUP}"):
        with dbt_env(tmp_path / "warehouse.duckdb", "2026-01-10", "2026-01-10"):
            pytest.fail("dbt would have started without Java")
    assert dict(os.environ) == environment_before
    no_jdk = tmp_path / "no-jdk"
    monkeypatch.setenv("JAVA_HOME", str(no_jdk))
    with pytest.raises(
        DbtRuntimeMissing, match=rf"{re.escape(f'JAVA_HOME={no_jdk}')} has no bin/java: {SETUP}"
    ):
        dbt_environment(runs_models=True)
    # A java on PATH is what Spark's launcher runs when JAVA_HOME is unset.
    monkeypatch.delenv("JAVA_HOME")
    (path / "java").write_text("#!/bin/sh\n")
    (path / "java").chmod(0o755)
    assert dbt_environment(runs_models=True)["REENGAGE_SPARK_MASTER"] == "local[3]"
