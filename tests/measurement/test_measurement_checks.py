"""The day's experiment in the UI's colours: SRM and guardrail checks over what measurement stored.

Real analysis of the synthetic world's campaigns written to a DuckDB file, then each check's verdict
read from those tables, as the checks on `campaign_measurement` read them after the daily run.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from reengage.defs.measurement.analysis import analyse, write_tables
from reengage.defs.measurement.checks import (
    guardrail_result,
    no_guardrail_breached,
    no_sample_ratio_mismatch,
    srm_result,
)
from reengage.defs.measurement.config import MeasurementConfig
from reengage.defs.measurement.outcomes import compute_outcomes
from reengage.warehouse import connect

from .measurement_world import PLANS, RUN_DATE, TARGETS


@pytest.fixture(scope="module")
def outcomes(world_db: Path) -> pd.DataFrame:
    with connect(world_db) as con:
        return compute_outcomes(con, RUN_DATE, TARGETS)


def verdicts(
    world_db: Path, tmp_path: Path, outcomes: pd.DataFrame, config: MeasurementConfig
) -> tuple[dg.AssetCheckResult, dg.AssetCheckResult]:
    """(SRM, guardrail) results on a copy of the world with the day's analysis of `outcomes` stored."""
    path = tmp_path / "warehouse.duckdb"
    shutil.copy(world_db, path)
    with connect(path) as con:
        write_tables(con, analyse(outcomes, PLANS, RUN_DATE, config), outcomes)
        return srm_result(con, [RUN_DATE]), guardrail_result(con, [RUN_DATE])


def test_a_campaign_whose_arms_match_their_planned_shares_passes_the_srm_check(
    world_db: Path, tmp_path: Path, outcomes: pd.DataFrame
) -> None:
    srm, _ = verdicts(world_db, tmp_path, outcomes, MeasurementConfig())
    assert srm.passed and srm.metadata["campaigns_tested"].value == 2


def test_a_sample_ratio_mismatch_is_a_red_check_naming_the_campaign(
    world_db: Path, tmp_path: Path, outcomes: pd.DataFrame
) -> None:
    # Guards "the UI tells the state of the day": a mismatch was only a count in the asset's metadata,
    # and the day showed green while the campaign's lifts were untrustworthy.
    held = outcomes[(outcomes["campaign_id"] == "win_back") & (outcomes["arm"] == "holdout")]
    skewed = pd.concat([outcomes, held.assign(customer_id=held["customer_id"] + "_again")], ignore_index=True)
    srm, _ = verdicts(world_db, tmp_path, skewed, MeasurementConfig())
    assert not srm.passed and srm.severity == dg.AssetCheckSeverity.ERROR
    assert srm.metadata["campaigns"].value == ["win_back"]
    assert "- win_back (2025-06-30): cells control/holdout" in (srm.description or "")


def test_a_breached_guardrail_that_paused_its_campaign_is_amber(
    world_db: Path, tmp_path: Path, outcomes: pd.DataFrame
) -> None:
    # Guards the same blind spot for harm: the spammy campaign's unsubscribes over its limit paused it
    # with only a log line; the check is amber because the pause already stops the campaign.
    _, guardrail = verdicts(world_db, tmp_path, outcomes, MeasurementConfig())
    assert not guardrail.passed and guardrail.severity == dg.AssetCheckSeverity.WARN
    assert guardrail.metadata["campaigns"].value == ["spammy"]
    assert "every one is paused from the next day on" in (guardrail.description or "")


def test_a_breached_guardrail_of_a_campaign_that_keeps_mailing_is_red(
    world_db: Path, tmp_path: Path, outcomes: pd.DataFrame
) -> None:
    config = MeasurementConfig(campaign_pause={"spammy": False})
    _, guardrail = verdicts(world_db, tmp_path, outcomes, config)
    assert not guardrail.passed and guardrail.severity == dg.AssetCheckSeverity.ERROR
    assert "spammy keep(s) mailing" in (guardrail.description or "")


def test_a_campaign_within_its_guardrails_passes(
    world_db: Path, tmp_path: Path, outcomes: pd.DataFrame
) -> None:
    relaxed = MeasurementConfig(campaign_limits={"spammy": {"max_unsubscribe_rate": 0.2}})
    _, guardrail = verdicts(world_db, tmp_path, outcomes, relaxed)
    assert guardrail.passed


def test_the_measurement_checks_never_block_what_follows_the_sending() -> None:
    # Measurement runs after the day's mail went out: a blocking check would only hide the report.
    for check in (no_sample_ratio_mismatch, no_guardrail_breached):
        assert [spec.blocking for spec in check.check_specs] == [False]
