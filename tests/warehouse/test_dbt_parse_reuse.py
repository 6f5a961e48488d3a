"""A daily build parses the dbt project again only when the project changed, not because the date did.

dbt keeps its parse of the project (`partial_parse.msgpack`) and reuses it when nothing it depends
on changed; the command line's --vars are among those things. The builds here run through Dagster,
as the daily job does, one run date after the other in one pipeline home.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from reengage.defs.warehouse import parse_state

from .dagster_run import materialize_warehouse_models
from .raw_world import RUN_DATE, create_raw_warehouse, insert_partitions, raw_tables

DAY_BEFORE = "2026-01-09"

# dbt's own log lines (dbt.log of the build's target folder)
REUSED_PARSE = "Partial parsing enabled, no changes found, skipping parsing"
FULL_PARSE = "Unable to do partial parsing"


def _dbt_log(run_id: str) -> str:
    (folder,) = (parse_state.dbt_home() / "runs").glob(f"{run_id}-*")
    return (folder / "dbt.log").read_text()


def test_the_next_days_build_reuses_dbts_parse_of_the_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Guards the daily parse cost: the run date reached dbt as a --vars value, and dbt parses the
    # whole project again whenever a command's vars change, so every daily build paid a full parse.
    warehouse = tmp_path / "warehouse.duckdb"
    create_raw_warehouse(warehouse, last_partition=DAY_BEFORE)
    first = materialize_warehouse_models(tmp_path, warehouse, partition_key=DAY_BEFORE)
    assert first.success
    with duckdb.connect(str(warehouse)) as con:
        con.execute("set timezone = 'UTC'")
        insert_partitions(con, raw_tables(), first=RUN_DATE, last=RUN_DATE)

    second = materialize_warehouse_models(tmp_path, warehouse, partition_key=RUN_DATE)

    assert second.success
    monkeypatch.setenv("REENGAGE_HOME", str(tmp_path))
    log = _dbt_log(second.run_id)
    assert FULL_PARSE not in log
    assert REUSED_PARSE in log
    # ... and the models are as of the new date all the same
    with duckdb.connect(str(warehouse), read_only=True) as con:
        as_of = con.execute(
            "select distinct cast(as_of_date as varchar) from marts.fct_user_features"
        ).fetchall()
    assert as_of == [(RUN_DATE,)]
