"""The suite files themselves: plain GE 1.x JSON, every expectation kept, severities stated, in step with
the contracts they mirror. These need no warehouse."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import great_expectations as gx
import pytest
import yaml

from reengage import settings
from reengage.catalog_values import VALID_CURRENCY, VALID_URL
from reengage.defs.ingest.contracts import CONTRACTS, EMAIL_EVENT_TYPES
from reengage.defs.interventions.policy.inputs import REQUIRED_RESPONSE_COLUMNS
from reengage.defs.quality.findings import QualityGateError
from reengage.defs.quality.suites import load_suite

SUITE_FILES = sorted(settings.EXPECTATIONS_DIR.glob("*.json"))
RAW_SUITES = {"raw_customers": "customers", "raw_events": "events", "raw_email_events": "email_events"}


def _expectations(name: str) -> list[dict]:
    return json.loads((settings.EXPECTATIONS_DIR / f"{name}.json").read_text())["expectations"]


def test_the_skeleton_suites_and_the_downstream_ones_are_all_there() -> None:
    names = {p.stem for p in SUITE_FILES}
    assert names >= {
        "raw_customers",
        "raw_events",
        "raw_email_events",
        "fct_user_features",
        "fct_user_responses",
        "intervention_list",
    }


@pytest.mark.parametrize("path", SUITE_FILES, ids=lambda p: p.stem)
def test_a_suite_file_loads_with_plain_gx_without_losing_an_expectation(path: Path) -> None:
    data = json.loads(path.read_text())
    plain = gx.ExpectationSuite(**data)
    strict = load_suite(path)
    assert len(plain.expectations) == len(strict.expectations) == len(data["expectations"])
    assert strict.name == path.stem
    # Typed expectation classes, as if the suite had been written in Python.
    assert all(type(e) is not gx.expectations.Expectation for e in strict.expectations)


@pytest.mark.parametrize("path", SUITE_FILES, ids=lambda p: p.stem)
def test_every_expectation_states_its_severity(path: Path) -> None:
    for raw in json.loads(path.read_text())["expectations"]:
        assert raw.get("severity") in {"critical", "warning", "info"}, raw


def test_a_misspelt_severity_is_an_error_not_a_silently_dropped_expectation(tmp_path: Path) -> None:
    # Regression guard: gx.ExpectationSuite(**json) logs and drops such an expectation, weakening the gate.
    data = json.loads((settings.EXPECTATIONS_DIR / "raw_events.json").read_text())
    data["expectations"][2]["severity"] = "fatal"
    path = tmp_path / "raw_events.json"
    path.write_text(json.dumps(data))
    with pytest.raises(QualityGateError, match="expectation 3"):
        load_suite(path)


def test_an_unknown_expectation_type_or_missing_severity_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "suite.json"
    path.write_text(
        json.dumps(
            {
                "name": "suite",
                "expectations": [
                    {
                        "type": "expect_column_values_to_be_nul",
                        "kwargs": {"column": "x"},
                        "severity": "warning",
                    },
                    {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "x"}},
                ],
            }
        )
    )
    with pytest.raises(QualityGateError) as error:
        load_suite(path)
    assert "expect_column_values_to_be_nul" in str(error.value)
    assert "no severity" in str(error.value)


def test_the_known_event_names_are_the_dbt_event_catalog() -> None:
    with (settings.DBT_PROJECT_DIR / "seeds" / "event_catalog.csv").open() as f:
        catalog = {row["event_name"] for row in csv.DictReader(f)}
    in_set = next(e for e in _expectations("raw_events") if e["type"] == "expect_column_values_to_be_in_set")
    assert set(in_set["kwargs"]["value_set"]) == catalog


def test_the_email_event_types_are_the_sendgrid_set_ingest_accepts() -> None:
    in_set = next(
        e for e in _expectations("raw_email_events") if e["type"] == "expect_column_values_to_be_in_set"
    )
    assert set(in_set["kwargs"]["value_set"]) == set(EMAIL_EVENT_TYPES)


@pytest.mark.parametrize("suite, source", RAW_SUITES.items())
def test_raw_suites_only_name_columns_the_ingest_contract_loads(suite: str, source: str) -> None:
    known = set(CONTRACTS[source].names) | {"_source_file", "_source_row", "_partition_date", "_loaded_at"}
    for raw in _expectations(suite):
        kwargs = raw["kwargs"]
        named = set(kwargs.get("column_set") or []) | ({kwargs["column"]} if "column" in kwargs else set())
        assert named <= known, raw


def test_the_responses_suite_holds_the_columns_the_policys_pause_reads_and_dbt_builds() -> None:
    # Guards the contract between the mart and the pause after a response: a column the
    # policy reads must be gated critically, and must be one fct_user_responses documents.
    expectations = _expectations("fct_user_responses")
    columns = next(e for e in expectations if e["type"] == "expect_table_columns_to_match_set")
    assert columns["severity"] == "critical"
    assert set(columns["kwargs"]["column_set"]) == set(REQUIRED_RESPONSE_COLUMNS)
    model = yaml.safe_load(
        (settings.DBT_PROJECT_DIR / "models" / "marts" / "fct_user_responses.yml").read_text()
    )["models"][0]
    assert set(REQUIRED_RESPONSE_COLUMNS) <= {c["name"] for c in model["columns"]}
    response_types = next(e for e in expectations if e["type"] == "expect_column_values_to_be_in_set")
    tests = next(c for c in model["columns"] if c["name"] == "response_type")["data_tests"]
    accepted = next(t["accepted_values"] for t in tests if isinstance(t, dict) and "accepted_values" in t)
    assert response_types["kwargs"]["value_set"] == accepted["arguments"]["values"]


def test_the_catalog_suite_checks_links_and_currencies_by_the_rules_ingest_applies() -> None:
    # Guards the one rule written twice (JSON cannot import it): a suite looser than ingest lets a bad
    # link through unseen, a stricter one fails every day's catalog.
    patterns = {
        e["kwargs"]["column"]: e["kwargs"]["regex"]
        for e in _expectations("raw_products")
        if e["type"] == "expect_column_values_to_match_regex"
    }
    assert patterns == {"currency": VALID_CURRENCY, "product_url": VALID_URL, "image_url": VALID_URL}
