"""Keep personal data out of what a validation leaves behind: Data Docs, logs and Dagster metadata.

Example values of identifier, email and name columns are replaced by `MASK`, and anything
shaped like an address is masked wherever it appears (values, error messages), since Data
Docs and the Dagster event log are files an erasure cannot reach.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from great_expectations.core.expectation_validation_result import ExpectationSuiteValidationResult

from reengage.emails import mask_addresses
from reengage.privacy.keys import COLUMN_KINDS

MASK = "<masked>"
_RESULT_VALUE_KEYS = (
    "partial_unexpected_list",
    "unexpected_list",
    "partial_unexpected_index_list",
    "unexpected_index_list",
    "details",
)


def is_masked_column(column: str | None) -> bool:
    """Personal data stays in the warehouse: no example values from identifier, email or name columns.

    Identifiers too (customer_id, user_id, anonymous_id: the columns an erasure looks people up by),
    since Data Docs and the Dagster event log are files an erasure cannot reach.
    """
    if column is None:
        return False
    name = column.lower()
    return "email" in name or name in COLUMN_KINDS or name in {"first_name", "last_name"}


def scrub(text: str) -> str:
    """Mask email addresses in free text (values, error messages) before it reaches logs or the UI."""
    return mask_addresses(text, MASK)


def columns_of(kwargs: Mapping[str, Any]) -> list[str]:
    """The columns an expectation's kwargs name (one column, a pair, or a list)."""
    if kwargs.get("column"):
        return [kwargs["column"]]
    if kwargs.get("column_A"):
        return [kwargs["column_A"], kwargs["column_B"]]
    return list(kwargs.get("column_list") or [])


def mask_personal_values(result: ExpectationSuiteValidationResult) -> None:
    """Replace example values of personal columns, and any address anywhere, in place.

    Runs before the outcome or Data Docs see the result, so neither can leak an address.
    """
    for r in result.results:
        details = r.result or {}
        if any(is_masked_column(c) for c in columns_of(r.expectation_config.kwargs)):
            for key in _RESULT_VALUE_KEYS:
                if isinstance(details.get(key), list):
                    details[key] = [MASK for _ in details[key]]
                elif key in details:
                    details[key] = MASK
            if isinstance(details.get("partial_unexpected_counts"), list):
                details["partial_unexpected_counts"] = [
                    {**c, "value": MASK} for c in details["partial_unexpected_counts"]
                ]
        r.result = _scrub_tree(details)


def _scrub_tree(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, list):
        return [_scrub_tree(v) for v in value]
    if isinstance(value, dict):
        return {k: _scrub_tree(v) for k, v in value.items()}
    return value
