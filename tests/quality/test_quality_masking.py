"""Masking a Great Expectations result on its own: personal columns lose their values, addresses vanish."""

from __future__ import annotations

from great_expectations.core.expectation_validation_result import (
    ExpectationSuiteValidationResult,
    ExpectationValidationResult,
)
from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

from reengage.defs.quality.masking import MASK, mask_personal_values


def result_of(column: str, values: list[str]) -> ExpectationSuiteValidationResult:
    config = ExpectationConfiguration(
        type="expect_column_values_to_not_be_null", kwargs={"column": column}, severity="warning"
    )
    details = {
        "unexpected_count": len(values),
        "partial_unexpected_list": list(values),
        "partial_unexpected_counts": [{"value": v, "count": 1} for v in values],
    }
    one = ExpectationValidationResult(success=False, expectation_config=config, result=details)
    return ExpectationSuiteValidationResult(success=False, results=[one], suite_name="s")


def test_values_of_a_personal_column_are_replaced_whatever_they_look_like() -> None:
    # Guards Data Docs and the event log: a customer id is personal even without an @ in it.
    result = result_of("customer_id", ["c-17", "c-18"])
    mask_personal_values(result)
    details = result.results[0].result
    assert details["partial_unexpected_list"] == [MASK, MASK]
    assert [c["value"] for c in details["partial_unexpected_counts"]] == [MASK, MASK]
    assert details["unexpected_count"] == 2


def test_an_address_in_another_column_is_masked_and_other_values_are_kept() -> None:
    # Guards an address typed into a free-text column reaching Data Docs.
    result = result_of("channel", ["ann@x.example", "sms"])
    mask_personal_values(result)
    assert result.results[0].result["partial_unexpected_list"] == [MASK, "sms"]
