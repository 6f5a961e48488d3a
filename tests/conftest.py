"""Every test runs against its own REENGAGE_HOME so nothing touches the developer's .data/."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    home = tmp_path_factory.mktemp("reengage_home")
    monkeypatch.setenv("REENGAGE_HOME", str(home))
    for name in (
        "REENGAGE_WAREHOUSE",
        "REENGAGE_LANDING",
        "SENDGRID_API_KEY",
        "REENGAGE_SENDGRID_HOST",
        # a developer's shell pointed at PostgreSQL must not move the DuckDB tests there
        "REENGAGE_WAREHOUSE_KIND",
        "REENGAGE_DBT_TARGET",
    ):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture(scope="session")
def warehouse_built_by_dagster(tmp_path_factory: pytest.TempPathFactory):
    """The raw test warehouse with every dbt model materialized through Dagster, once per session:
    (the run's result, the DuckDB file). Tests that change the file work on a copy."""
    from tests.warehouse.dagster_run import materialize_warehouse_models  # dagster only when asked for
    from tests.warehouse.raw_world import create_raw_warehouse

    home = tmp_path_factory.mktemp("warehouse_built_by_dagster")
    warehouse = home / "warehouse.duckdb"
    create_raw_warehouse(warehouse)
    result = materialize_warehouse_models(home, warehouse)
    assert result.success
    return result, warehouse
