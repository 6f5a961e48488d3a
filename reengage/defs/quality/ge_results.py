"""Reduce a Great Expectations validation result to the gate's findings (`findings.py`).

Each expectation keeps its type, column, severity, counts, a few example values and any
error GE hit computing it; values of personal columns are left out (`masking.py`) and
anything address-like in what is kept is masked.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from great_expectations.core.expectation_validation_result import (
    ExpectationSuiteValidationResult,
    ExpectationValidationResult,
)
from great_expectations.expectations.metadata_types import FailureSeverity

from reengage.defs.quality.findings import ExpectationOutcome, SuiteOutcome
from reengage.defs.quality.masking import columns_of, is_masked_column, scrub

EXAMPLES_PER_EXPECTATION = 3


def suite_outcome(
    result: ExpectationSuiteValidationResult,
    suite_name: str,
    table: str,
    day: date | None,
    note: str | None,
) -> SuiteOutcome:
    """The suite's findings; `day` is None for a suite that validates the whole table.

    The row count is what the row-count expectation observed, else the first element count
    an expectation reports (a suite need not have a row-count expectation).
    """
    outcomes = tuple(_expectation_outcome(r) for r in result.results)
    row_count = next(
        (
            int(r.result["observed_value"])
            for r in result.results
            if r.expectation_config.type == "expect_table_row_count_to_be_between"
            and isinstance((r.result or {}).get("observed_value"), int)
        ),
        next((o.element_count for o in outcomes if o.element_count is not None), None),
    )
    return SuiteOutcome(
        suite_name=suite_name,
        table=table,
        partition_date=day,
        results=outcomes,
        row_count=row_count,
        note=note,
    )


def _expectation_outcome(r: ExpectationValidationResult) -> ExpectationOutcome:
    config = r.expectation_config
    columns = columns_of(config.kwargs)
    details = r.result or {}
    masked = any(is_masked_column(c) for c in columns)
    observed = details.get("observed_value")
    return ExpectationOutcome(
        expectation_type=config.type,
        column=", ".join(columns) or None,
        severity=FailureSeverity(config.severity),
        success=bool(r.success),
        unexpected_count=details.get("unexpected_count"),
        element_count=details.get("element_count"),
        observed_value=None if observed is None or masked else scrub(_short(observed)),
        examples=() if masked else _examples(details),
        values_masked=masked and bool(details.get("unexpected_count")),
        error=_error_message(r),
    )


def _examples(details: Mapping[str, Any]) -> tuple[str, ...]:
    counts = details.get("partial_unexpected_counts")
    values = (
        [c.get("value") for c in counts] if counts else list(details.get("partial_unexpected_list") or [])
    )
    shown: list[str] = []
    for v in values:
        text = scrub(_short(v))
        if text not in shown:
            shown.append(text)
    return tuple(shown[:EXAMPLES_PER_EXPECTATION])


def _short(value: Any, limit: int = 40) -> str:
    if value is None:
        return "null"
    if isinstance(value, datetime | date):
        return value.isoformat()
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _error_message(r: ExpectationValidationResult) -> str | None:
    """GE reports an expectation it could not compute as a failure with exception_info; name it."""
    info = r.exception_info or {}
    # One flat record for the expectation itself, or one record per metric that failed.
    records = [info] if "raised_exception" in info else [v for v in info.values() if isinstance(v, dict)]
    for record in records:
        if record.get("raised_exception") or record.get("exception_message"):
            lines = str(record.get("exception_message") or "").strip().splitlines()
            return scrub(lines[0] if lines else "unknown error")[:300]
    return None
