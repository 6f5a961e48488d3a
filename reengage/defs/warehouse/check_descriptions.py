"""Readable descriptions for dbt data tests, shown on their asset checks in the Dagster UI.

dagster-dbt takes a check's description from the test's `meta.description` only, so the 140-odd
generic tests (not_null, unique, ...) would show none. A description written in the YAML (singular
tests have one) wins; otherwise it is built from the test's name and arguments.
"""

import re
from collections.abc import Mapping
from typing import Any

_REF = re.compile(r"""ref\(\s*['"]([^'"]+)['"]\s*\)""")


def describe_dbt_test(test: Mapping[str, Any]) -> str:
    """One sentence on what the test guarantees, and what its failure does to the run."""
    written = (test.get("description") or "").strip() or (test.get("meta") or {}).get("description")
    if written:
        return written
    metadata = test.get("test_metadata") or {}
    claim = _claim(metadata.get("name"), metadata.get("kwargs") or {}, test) if metadata else None
    claim = claim or _leading_comment(test.get("raw_code") or "") or f"dbt test {test.get('name')}."
    severity = str((test.get("config") or {}).get("severity") or "error").lower()
    effect = (
        "a failure fails the dbt build, so nothing downstream runs"
        if severity == "error"
        else "a failure is a warning"
    )
    return f"{claim} (dbt data test; {effect}.)"


def _claim(name: str | None, kwargs: Mapping[str, Any], test: Mapping[str, Any]) -> str | None:
    column = kwargs.get("column_name") or test.get("column_name")
    if name == "not_null":
        return f"`{column}` is never null."
    if name == "unique":
        return f"`{column}` is unique: no two rows share a value."
    if name == "accepted_values":
        values = ", ".join(str(v) for v in kwargs.get("values") or [])
        return f"`{column}` only takes the values {values}."
    if name == "relationships":
        target = _REF.search(str(kwargs.get("to") or ""))
        table = target.group(1) if target else kwargs.get("to")
        return f"Every `{column}` exists as `{kwargs.get('field')}` in {table}."
    if name == "unique_combination_of_columns":
        columns = ", ".join(kwargs.get("combination_of_columns") or [])
        return f"One row per ({columns})."
    if name:
        return f"dbt test {name}" + (f" on `{column}`." if column else ".")
    return None


def _leading_comment(sql: str) -> str | None:
    """Singular tests open with a comment saying what a failure means (dbt_project/tests/)."""
    lines = []
    for line in sql.strip().splitlines():
        if not line.startswith("--"):
            break
        lines.append(line.removeprefix("--").strip())
    return " ".join(lines) or None
