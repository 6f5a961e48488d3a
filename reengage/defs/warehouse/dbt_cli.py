"""The dbt CLI resource of the pipeline: dagster-dbt's, without two start-up costs the project never uses."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from functools import cached_property
from importlib import metadata
from pathlib import Path

from dagster_dbt import DbtCliResource
from packaging import version

# The dbt installed beside this interpreter, so nothing depends on an activated virtual environment.
DBT_EXECUTABLE = str(Path(sys.executable).with_name("dbt"))


class WarehouseDbtCliResource(DbtCliResource):
    """dagster-dbt's resource minus what it does before every dbt command that this project never uses.

    dagster-dbt first runs `dbt --version` in a second dbt process (seconds of imports, and three
    requests to PyPI for the latest releases, from a pipeline that runs unattended and often
    offline), then builds a dbt adapter inside the Dagster process (importing dbt and loading its
    macros) that only its `fetch_row_counts` and `fetch_column_metadata` use. Row counts come from
    row_counts.py, through the warehouse resource, so neither is needed. The pipeline runs the dbt
    installed beside this interpreter (DBT_EXECUTABLE), so its version is that of the installed
    dbt-core package.
    """

    @cached_property
    def _cli_version(self) -> version.Version:
        return version.parse(metadata.version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:  # type: ignore[override]
        return None
