"""When the daily run fits a model, and what counts as a change of the features' meaning."""

from __future__ import annotations

import copy

import pytest

from reengage.defs.scoring.contracts import FeaturesContract
from reengage.defs.scoring.training import fit_decision
from reengage.defs.warehouse import manifest as dbt_manifest
from reengage.defs.warehouse.manifest import dbt_definition, load_manifest

TODAY = FeaturesContract({"code: reengage/learning/features.py": "a", "dbt seed event_catalog": "b"})


def test_a_current_model_under_todays_contract_is_kept() -> None:
    decision = fit_decision("churn model", "churn-1", dict(TODAY.parts), TODAY, requested=False)
    assert not decision.fit
    assert "churn-1 is current" in decision.reason and "weekly model_training job" in decision.reason


def test_with_no_model_the_first_run_that_can_fit_does() -> None:
    decision = fit_decision("churn model", None, None, TODAY, requested=False)
    assert decision.fit and decision.cold_start
    assert decision.reason.startswith("cold start")


def test_a_changed_contract_refits_and_names_what_changed() -> None:
    # Guards the training rule: a model is refitted when what its features mean changes.
    earlier = {**TODAY.parts, "dbt seed event_catalog": "old"}
    decision = fit_decision("churn model", "churn-1", earlier, TODAY, requested=False)
    assert decision.fit and not decision.cold_start
    assert "dbt seed event_catalog" in decision.reason
    assert "code: reengage/learning/features.py" not in decision.reason


def test_a_model_saved_before_contracts_were_recorded_is_refitted() -> None:
    decision = fit_decision("churn model", "churn-1", {}, TODAY, requested=False)
    assert decision.fit and "records no features contract" in decision.reason


def test_after_one_candidate_under_the_new_contract_lost_the_daily_run_stops_refitting() -> None:
    # Guards against a retraining loop: a candidate that did not beat the current model on the same
    # holdout leaves the current model judged on today's features; the weekly job tries again.
    earlier = {**TODAY.parts, "dbt seed event_catalog": "old"}
    decision = fit_decision(
        "churn model", "churn-1", earlier, TODAY, requested=False, tried_under_contract=["churn-2"]
    )
    assert not decision.fit
    assert "churn-2" in decision.reason and "did not replace it" in decision.reason


def test_the_weekly_job_fits_whatever_the_contract() -> None:
    assert fit_decision("churn model", "churn-1", dict(TODAY.parts), TODAY, requested=True).fit


@pytest.fixture(scope="module")
def manifest() -> dict:
    return load_manifest()


def test_the_dbt_part_of_the_churn_contract_covers_the_seed_and_models_upstream(manifest: dict) -> None:
    parts = dbt_definition(["int_events_stitched", "stg_crm__customers"], manifest)
    assert {"dbt seed event_catalog", "dbt model stg_product__events", "dbt model stg_crm__customers"} <= set(
        parts
    )
    assert "dbt model fct_user_features" not in parts  # downstream models do not touch these features
    assert not any(name.startswith("dbt var run_date") for name in parts)  # changes every day


def test_editing_the_event_catalog_seed_or_a_var_changes_the_contract(
    manifest: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = dbt_definition(["fct_user_features"], manifest)
    edited = copy.deepcopy(manifest)
    edited["nodes"]["seed.reengage.event_catalog"]["checksum"]["checksum"] = "edited"
    assert (
        dbt_definition(["fct_user_features"], edited)["dbt seed event_catalog"]
        != before["dbt seed event_catalog"]
    )
    project_vars = dbt_manifest.project_vars()
    monkeypatch.setattr(
        dbt_manifest,
        "project_vars",
        lambda: {**project_vars, "long_window_days": 60, "run_date": "2030-01-01"},
    )
    after = dbt_definition(["fct_user_features"], manifest)
    assert FeaturesContract(after).changes_from(before) == ["dbt var long_window_days"]
