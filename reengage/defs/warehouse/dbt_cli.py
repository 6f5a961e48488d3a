"""Which dbt the pipeline runs, with what environment, and its Dagster resource.

On duckdb and postgres it is the dbt installed beside this interpreter. On spark it is the dbt of the
environment scripts/spark.sh makes (the `spark.dbt` setting): dbt-spark brings pyspark, which must
never be importable in the product's environment (scripts/spark.sh says why), so the product's dbt
has no spark adapter and could not even parse the project for that target.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Sequence
from functools import cached_property
from importlib import metadata
from pathlib import Path

from dagster_dbt import DbtCliResource
from packaging import version

from reengage import settings
from reengage.spark import layout

# The dbt installed beside this interpreter, so nothing depends on an activated virtual environment.
PRODUCT_DBT = str(Path(sys.executable).with_name("dbt"))
# What a person does when the Spark environment is missing or not exported.
SPARK_SETUP = "run scripts/spark.sh install and export what `scripts/spark.sh env` prints"


class DbtRuntimeMissing(settings.SettingsError):
    """The dbt or the Java runtime the warehouse kind needs is not where the settings say."""


def dbt_executable() -> str:
    """The dbt that parses and builds the project on the kind of warehouse dbt's target builds."""
    if settings.dbt_target_kind() != "spark":
        return PRODUCT_DBT
    found = settings.resolve("spark.dbt")
    if not found.value:
        raise DbtRuntimeMissing(
            "warehouse_kind spark runs the dbt of the Spark environment (dbt-spark), and spark.dbt "
            f"({settings.BY_KEY['spark.dbt'].env}) is unset: {SPARK_SETUP}"
        )
    dbt = settings.spark_dbt()
    if dbt is None or not dbt.is_file() or not os.access(dbt, os.X_OK):
        raise DbtRuntimeMissing(f"{found.origin}={found.value} is not an executable file: {SPARK_SETUP}")
    return str(dbt)


def dbt_environment(*, runs_models: bool) -> dict[str, str]:
    """The variables dbt needs on the kind its target builds, beyond the warehouse path and run dates.

    On spark, those the profile's `spark` output reads, from the settings: the profile reads them with
    no default, so a value kept in reengage.toml reaches dbt only this way, and even `dbt parse`
    fails without them. A command that runs models (`runs_models`) also starts Spark, which needs
    Java; a parse starts no Spark. On the other kinds, nothing.
    """
    if settings.dbt_target_kind() != "spark":
        return {}
    if runs_models:
        _check_java()
    return layout.dbt_environment()


def _check_java() -> None:
    """Refuse to start a Spark build that would fail minutes later inside dbt with Java's own words."""
    java_home = settings.java_home()
    if java_home is None:
        if shutil.which("java") is None:
            raise DbtRuntimeMissing(
                f"dbt on Spark starts Java, and JAVA_HOME is unset and no java is on PATH: {SPARK_SETUP}"
            )
        return
    java = Path(java_home) / "bin" / "java"
    if not os.access(java, os.X_OK):
        raise DbtRuntimeMissing(f"JAVA_HOME={java_home} has no bin/java: {SPARK_SETUP}")


class WarehouseDbtCliResource(DbtCliResource):
    """dagster-dbt's resource minus what it does before every dbt command that this project never uses.

    dagster-dbt first runs `dbt --version` in a second dbt process (seconds of imports, and three
    requests to PyPI for the latest releases, from a pipeline that runs unattended and often
    offline), then builds a dbt adapter inside the Dagster process (importing dbt and loading its
    macros) that only its `fetch_row_counts` and `fetch_column_metadata` use. Row counts come from
    row_counts.py, through the warehouse resource, so neither is needed.
    """

    @cached_property
    def _cli_version(self) -> version.Version:
        # The dbt-core installed here. On spark the dbt run is the Spark environment's, whose dbt-core
        # is this same version by construction: scripts/spark.sh installs requirements-spark.lock
        # constrained by requirements.lock, which pins dbt-core.
        return version.parse(metadata.version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:  # type: ignore[override]
        return None
