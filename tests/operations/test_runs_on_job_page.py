"""Runs started from Python (the demo, the command line, the tests) are listed on their job's page.

The UI lists a job's runs by job name and by the code location's label; a run started with
`execute_in_process` or `create_run_for_job` carries that label only when given it.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import dagster as dg
from dagster._core.storage.tags import REPOSITORY_LABEL_TAG

from reengage import runs
from reengage.defs.ingest.contracts import SOURCES
from reengage_dev.demo.world import generate_world

LAST = date(2024, 3, 10)
# What the UI's job page asks the run storage for (dagster_graphql GraphenePipeline.resolve_runs).
ON_THE_PAGE = {REPOSITORY_LABEL_TAG: "__repository__@reengage"}


def listed(instance: dg.DagsterInstance, job_name: str) -> list[dg.DagsterRun]:
    return list(instance.get_runs(dg.RunsFilter(job_name=job_name, tags=ON_THE_PAGE)))


def test_the_history_load_is_listed_on_the_backfill_jobs_page_not_as_an_unnamed_asset_job(
    isolated_home: Path,
) -> None:
    # Guards the history load shown as an unnamed `__ASSET_JOB` run, on no job's page.
    generate_world(isolated_home, customers=40, days=3, end_date=LAST, seed=5)
    instance = dg.DagsterInstance.ephemeral()

    result = runs.load_history(LAST - timedelta(days=2), LAST, instance, checks=False)

    assert result.success, runs.failures(result)
    (run,) = listed(instance, "reengagement_backfill")
    assert run.tags["dagster/asset_partition_range_end"] == LAST.isoformat()
    assert [r.job_name for r in instance.get_runs()] == ["reengagement_backfill"]


def test_a_run_started_by_the_command_line_is_listed_on_its_jobs_page(
    isolated_home: Path, tmp_path: Path
) -> None:
    # Guards the job page saying "No runs found" after `reengage backfill` and `reengage run`: their
    # runs (created in the persistent instance, then executed) carried the job name but not the label.
    generate_world(isolated_home, customers=40, days=1, end_date=LAST, seed=5)
    raw = frozenset(dg.AssetKey(["raw", source]) for source in SOURCES)
    job = dg.reconstructable(runs.backfill_job).get_subset(asset_selection=raw)
    (tmp_path / "dagster_home").mkdir()
    with dg.DagsterInstance.local_temp(str(tmp_path / "dagster_home")) as instance:
        result = runs.run_once(job, instance, {"dagster/partition": LAST.isoformat()})

        assert result.success, runs.failures(result)
        (run,) = listed(instance, "reengagement_backfill")
        assert run.tags["dagster/partition"] == LAST.isoformat()
