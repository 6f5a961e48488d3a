"""Backfilling past run dates rebuilds the warehouse, quality and measurement assets and never delivers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
import duckdb
import pytest

from reengage import settings
from reengage.definitions import build_definitions
from reengage.runs import failures
from reengage.schema.declared import CAMPAIGN_SENDS
from reengage.schema.migrations import migrate
from reengage_dev.demo.world import generate_world

pytestmark = pytest.mark.e2e

END = datetime.now(UTC).date() - timedelta(days=5)  # an old stretch of days
DAYS = 4
NEVER_IN_A_BACKFILL = {"campaign_sends", "intervention_list", "churn_model", "churn_scores"}


@pytest.fixture(scope="module")
def job():
    return build_definitions().resolve_job_def("reengagement_backfill")


def test_the_backfill_job_holds_warehouse_quality_and_measurement_but_not_delivery(job) -> None:
    keys = {key.to_user_string() for key in job.asset_layer.executable_asset_keys}
    assert {"raw/events", "marts/fct_user_features", "quarantine_summary", "campaign_results"} <= keys
    assert not keys & NEVER_IN_A_BACKFILL
    checks = {key.name for key in job.asset_layer.asset_graph.asset_check_keys}
    assert {"raw_events_expectations", "events_volume_and_freshness"} <= checks, "the gates run in backfills"


def test_the_backfill_job_builds_every_dbt_model(job) -> None:
    """The incremental state included: without it a ranged build leaves the sessions behind the events."""
    graph = build_definitions().resolve_asset_graph()
    dbt_models = {node.key for node in graph.asset_nodes if "dbt" in node.kinds and node.is_executable}
    assert dg.AssetKey(["intermediate", "int_session_rebuilds"]) in dbt_models
    missing = dbt_models - set(job.asset_layer.executable_asset_keys)
    assert not missing, sorted(key.to_user_string() for key in missing)


def test_a_backfill_over_a_past_range_materializes_every_day(job, isolated_home) -> None:
    generate_world(isolated_home, customers=150, days=DAYS, end_date=END, seed=3)
    instance = dg.DagsterInstance.ephemeral()
    first = END - timedelta(days=DAYS - 1)
    # What the asset backfill daemon launches: one run over the range for the single-run assets
    # (ingest and dbt), then one run per day for the others.
    single_run = [dg.AssetKey(["raw", s]) for s in ("customers", "events", "email_events")]
    single_run += [
        k for k in job.asset_layer.executable_asset_keys if k.path[0] in ("staging", "intermediate", "marts")
    ]
    ranged = job.get_subset(asset_selection=set(single_run)).execute_in_process(
        instance=instance,
        tags={
            "dagster/asset_partition_range_start": first.isoformat(),
            "dagster/asset_partition_range_end": END.isoformat(),
        },
        raise_on_error=False,
    )
    assert ranged.success, failures(ranged)
    with duckdb.connect(str(settings.warehouse_path())) as con:
        # A deployment that ran daily has these; measurement reads them (empty: nothing was sent then).
        migrate(con)
        con.execute("create schema if not exists delivery")
        con.execute(CAMPAIGN_SENDS.ddl())
    per_day = {dg.AssetKey(["quarantine_summary"]), dg.AssetKey(["campaign_results"])}
    for day in (END - timedelta(days=1), END):
        result = job.get_subset(asset_selection=per_day).execute_in_process(
            instance=instance, partition_key=day.isoformat(), raise_on_error=False
        )
        assert result.success, failures(result)
    with duckdb.connect(str(settings.warehouse_path()), read_only=True) as con:
        loaded = con.execute("select count(distinct _partition_date) from raw.events").fetchall()[0][0]
        features = con.execute("select count(*) from marts.fct_user_features").fetchall()[0][0]
    assert loaded == DAYS and features > 0
    materialized = instance.get_materialized_partitions(dg.AssetKey(["quarantine_summary"]))
    assert materialized == {(END - timedelta(days=1)).isoformat(), END.isoformat()}
