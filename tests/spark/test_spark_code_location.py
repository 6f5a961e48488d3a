"""The code location loads on warehouse_kind spark, its `dbt parse` run by the Spark environment's dbt.

A copy of the checkout, whose dbt project has no manifest yet, loads `reengage.definitions` in a
process of its own with REENGAGE_WAREHOUSE_KIND=spark and what scripts/spark.sh prints for the
Spark environment's dbt and Java; the Spark master and driver memory are left to their settings'
defaults, so they reach dbt's profile only if the pipeline hands them on. The product's dbt has no
spark adapter: a manifest parsed for adapter spark can only be the Spark environment's dbt's. No
Spark starts (a parse opens no connection).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from reengage.defs.warehouse.spark_stage_tables import WRITERS
from tests.test_definitions import NOT_SOURCES

from .spark_env import spark_environment

pytestmark = pytest.mark.spark

ROOT = Path(__file__).resolve().parents[2]

# Loads the code location as Dagster does and says what it found, as JSON on the last line.
LOADER = """
import json

import reengage
from reengage.definitions import build_definitions
from reengage.defs.warehouse.assets import model_key
from reengage.defs.warehouse.project import dbt_project
from reengage.defs.warehouse.spark_stage_tables import STAGE_TABLES_KEY

defs = build_definitions()
graph = defs.resolve_asset_graph()
keys = graph.get_all_asset_keys()
daily_job = defs.resolve_job_def("daily_reengagement")
manifest = json.loads(dbt_project.manifest_path.read_text())
models = [node["name"] for node in manifest["nodes"].values() if node["resource_type"] == "model"]
print(json.dumps({
    "package": reengage.__file__,
    "dbt": defs.resources["dbt"].dbt_executable,
    "manifest": str(dbt_project.manifest_path),
    "adapter": manifest["metadata"]["adapter_type"],
    "models": len(models),
    "models_without_an_asset": [name for name in models if model_key(name) not in keys],
    "stage_tables_after": sorted(key.to_user_string() for key in graph.get(STAGE_TABLES_KEY).parent_keys),
    "stage_tables_in_daily_job": STAGE_TABLES_KEY in daily_job.asset_layer.executable_asset_keys,
}))
"""


def test_the_code_location_parses_the_project_with_the_spark_environments_dbt(tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    shutil.copytree(ROOT, checkout, ignore=NOT_SOURCES)
    spark_env = spark_environment(tmp_path / "spark_home")
    loader = tmp_path / "load_definitions.py"
    loader.write_text(LOADER)
    env = {
        **os.environ,
        "REENGAGE_WAREHOUSE_KIND": "spark",
        "REENGAGE_HOME": str(tmp_path / "home"),
        "PYTHONPATH": os.pathsep.join([str(checkout), str(checkout / "devkit")]),
        **{name: spark_env[name] for name in ("JAVA_HOME", "REENGAGE_SPARK_DBT", "REENGAGE_SPARK_HOME")},
    }
    done = subprocess.run(
        [sys.executable, str(loader)], cwd=checkout, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert Path(loaded["package"]).is_relative_to(checkout), "the checkout under test was not the one loaded"
    assert loaded["dbt"] == spark_env["REENGAGE_SPARK_DBT"]
    manifest = Path(loaded["manifest"])
    assert manifest.is_relative_to(checkout / "dbt_project" / "target") and manifest.exists()
    assert loaded["adapter"] == "spark"
    assert loaded["models"] == len(list((checkout / "dbt_project" / "models").rglob("*.sql")))
    assert loaded["models_without_an_asset"] == []
    # the daily job's last step on the kind publishes the stages' tables once all their writers ran
    assert loaded["stage_tables_in_daily_job"]
    assert loaded["stage_tables_after"] == sorted(key.to_user_string() for key in WRITERS)
