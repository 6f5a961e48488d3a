"""Read a Great Expectations suite file strictly: every expectation built, or an error naming it.

Suites are plain GE 1.x JSON files in `expectations/`; each expectation carries GE's native
`severity` (critical, warning, info), and the suite's `meta` may say which column
partitions the table (`partition_column`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import great_expectations as gx
from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

from reengage.defs.quality.findings import QualityGateError

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def load_suite(path: Path | str) -> gx.ExpectationSuite:
    """Read a suite file strictly.

    `gx.ExpectationSuite(**json)` logs and silently drops an expectation it cannot build (an
    unknown type, a misspelt severity), which would quietly weaken a gate; here any such
    expectation is an error naming the file and the expectation. A severity must be explicit:
    GE would otherwise default it to critical without anyone having decided so.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise QualityGateError(f"cannot read suite {path}: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("expectations"), list):
        raise QualityGateError(f"{path}: not a Great Expectations suite (no 'expectations' list)")
    problems: list[str] = []
    built = []
    for i, raw in enumerate(data["expectations"], start=1):
        kind = raw.get("type", "?") if isinstance(raw, dict) else "?"
        if not isinstance(raw, dict) or "severity" not in raw:
            problems.append(f"expectation {i} ({kind}): no severity (critical, warning or info)")
            continue
        try:
            built.append(ExpectationConfiguration(**raw).to_domain_obj())
        except Exception as exc:  # GE raises several unrelated types here; all mean "invalid".
            problems.append(f"expectation {i} ({kind}): {str(exc).splitlines()[0]}")
    partition_column = (data.get("meta") or {}).get("partition_column")
    if partition_column is not None and not IDENTIFIER.fullmatch(str(partition_column)):
        problems.append(f"meta.partition_column {partition_column!r} is not a column name")
    if problems:
        raise QualityGateError(f"{path}: " + "; ".join(problems))
    try:
        return gx.ExpectationSuite(
            name=data.get("name") or path.stem,
            expectations=built,
            meta=data.get("meta"),
            notes=data.get("notes"),
        )
    except Exception as exc:
        raise QualityGateError(f"{path}: {exc}") from exc
