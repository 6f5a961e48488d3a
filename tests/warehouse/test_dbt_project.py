"""The dbt project parses and documents itself: what Dagster and analysts rely on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from reengage.defs.ingest.parse import FALSE_WORDS

from .conftest import BuiltWarehouse, run_dbt
from .raw_world import RUN_DATE


@pytest.fixture(scope="module")
def parsed_manifest(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    # No warehouse file exists: parsing (what dagster-dbt does when it loads the
    # code location) must not need one.
    work_dir = tmp_path_factory.mktemp("dbt_parse")
    result = run_dbt(["parse"], work_dir / "not_created.duckdb", work_dir)
    assert result.returncode == 0, result.explain()
    assert result.events_at_level("warn") == [], result.explain()
    assert not (work_dir / "not_created.duckdb").exists()
    return json.loads((result.target_path / "manifest.json").read_text())


def test_dbt_parse_declares_the_raw_sources_dagster_keys_on(parsed_manifest: dict[str, Any]) -> None:
    # The ingest assets use the keys ["raw", "customers"] etc.; dagster-dbt derives
    # them from these source names, so renaming one silently breaks lineage.
    sources = {(s["source_name"], s["name"], s["schema"]) for s in parsed_manifest["sources"].values()}
    assert sources == {
        ("raw", "customers", "raw"),
        ("raw", "events", "raw"),
        ("raw", "email_events", "raw"),
        ("raw", "sms_events", "raw"),
        ("raw", "products", "raw"),
        ("raw", "quarantine", "raw"),
    }


def test_every_model_states_its_grain(parsed_manifest: dict[str, Any]) -> None:
    models = [n for n in parsed_manifest["nodes"].values() if n["resource_type"] == "model"]
    assert len(models) >= 13
    assert [m["name"] for m in models if "One row per" not in m["description"]] == []


# PostgreSQL truncates no identifier: it refuses one longer than 63 bytes, and
# dbt names the relation of each unit test's fixture after the test.
POSTGRES_MAX_IDENTIFIER = 63


def test_every_unit_test_name_fits_a_postgresql_relation_name(parsed_manifest: dict[str, Any]) -> None:
    unit_tests = list(parsed_manifest["unit_tests"].values())
    assert len(unit_tests) >= 29
    too_long = [u["name"] for u in unit_tests if len(u["name"].encode()) > POSTGRES_MAX_IDENTIFIER]
    assert too_long == []


def test_every_threshold_is_a_project_var_with_a_default(parsed_manifest: dict[str, Any]) -> None:
    project_vars = Path(__file__).resolve().parents[2] / "dbt_project" / "dbt_project.yml"
    text = project_vars.read_text()
    for name in (
        "session_gap_minutes",
        "cooling_after_days",
        "dormant_after_days",
        "lapsed_after_days",
        "at_risk_ratio",
        "cart_abandon_hours",
        "browse_abandon_min_product_views",
        "enthusiast_min_views",
        "enthusiast_window_minutes",
        "new_user_days",
        "high_value_top_share",
        "whole_table_tests_weekday",
        "response_conversion_event",
        "response_conversion_window_days",
        "cart_items_lookback_days",
        "recent_views_lookback_days",
        "social_proof_min_count",
    ):
        assert f"\n  {name}: " in text, name


def test_every_value_ingest_reads_as_false_reads_as_a_withdrawal_when_a_row_is_refused() -> None:
    # Guards the one vocabulary kept in two places: a consent value ingest would load as false must
    # also withdraw consent when its row is refused for another field (stg_crm__refused_customers).
    project = yaml.safe_load(
        (Path(__file__).resolve().parents[2] / "dbt_project" / "dbt_project.yml").read_text()
    )
    assert set(FALSE_WORDS) <= set(project["vars"]["consent_withdrawal_values"])


def test_dbt_docs_generate_documents_every_column_of_every_model(built_warehouse: BuiltWarehouse) -> None:
    # Same folder and vars as the build, so dbt can reuse its partial parse.
    result = run_dbt(
        ["docs", "generate", "--vars", json.dumps({"run_date": RUN_DATE})],
        built_warehouse.path,
        built_warehouse.work_dir,
    )
    assert result.returncode == 0, result.explain()
    catalog = json.loads((result.target_path / "catalog.json").read_text())
    manifest = json.loads((result.target_path / "manifest.json").read_text())
    assert "source.reengage.raw.events" in catalog["sources"]
    missing: dict[str, list[str]] = {}
    for unique_id, node in manifest["nodes"].items():
        if node["resource_type"] != "model":
            continue
        assert unique_id in catalog["nodes"], unique_id
        built_columns = {c.lower() for c in catalog["nodes"][unique_id]["columns"]}
        described = {c.lower() for c, spec in node["columns"].items() if spec.get("description")}
        if built_columns - described:
            missing[node["name"]] = sorted(built_columns - described)
        assert not described - built_columns, (node["name"], described - built_columns)
    assert missing == {}
