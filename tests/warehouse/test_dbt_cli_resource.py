"""The dbt resource of the pipeline starts dbt once per command, in its own process only."""

from __future__ import annotations

from pathlib import Path

import pytest

from reengage.defs.resources import resources


def test_the_pipelines_dbt_resource_loads_no_dbt_inside_the_dagster_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Guards the dbt build's fixed start-up costs: before each build dagster-dbt ran `dbt --version`
    # (a second dbt process, which also asked PyPI for the latest releases) and built a dbt adapter
    # in the Dagster process (dbt's imports and macros), used only by row-count helpers this
    # project does not call. The adapter is the observable half.
    monkeypatch.setenv("REENGAGE_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
    dbt = resources().resources["dbt"]
    invocation = dbt.cli(["ls", "--resource-type", "seed"], target_path=tmp_path / "target")
    assert invocation.is_successful()
    assert invocation.adapter is None
