"""The dbt build as Dagster runs it (the warehouse_models asset) on a test warehouse file, for a run date."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from reengage.defs.warehouse.assets import dbt_project, warehouse_models
from reengage.defs.warehouse.dbt_cli import WarehouseDbtCliResource, dbt_executable
from reengage.warehouse import WarehouseResource
from tests.warehouse.raw_world import RUN_DATE


def materialize_warehouse_models(
    home: Path,
    warehouse: Path,
    run_config: dict[str, Any] | None = None,
    partition_key: str = RUN_DATE,
    first_partition: str | None = None,
    raise_on_error: bool = True,
) -> dg.ExecuteInProcessResult:
    """Materialize every dbt model on the DuckDB file `warehouse` (REENGAGE_HOME `home`).

    With `first_partition`, one run over the days from it to `partition_key`, as a backfill runs.
    """
    one_run_range = {
        "dagster/asset_partition_range_start": first_partition,
        "dagster/asset_partition_range_end": partition_key,
    }
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REENGAGE_HOME", str(home))
        patch.setenv("REENGAGE_WAREHOUSE", str(warehouse))
        patch.delenv("REENGAGE_WAREHOUSE_KIND", raising=False)
        patch.delenv("REENGAGE_DBT_TARGET", raising=False)
        return dg.materialize(
            [warehouse_models],
            partition_key=None if first_partition else partition_key,
            tags=one_run_range if first_partition else None,
            run_config=run_config,
            resources={
                "dbt": WarehouseDbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable()),
                "warehouse": WarehouseResource(path=str(warehouse)),
            },
            raise_on_error=raise_on_error,
        )
