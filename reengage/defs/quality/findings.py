"""What a quality gate concluded: each expectation's verdict and the suite's roll-ups, with no personal data.

These are the project's own terms, independent of how Great Expectations reports a run:
the asset checks (`checks.py`) read them, and `SuiteOutcome.raise_for_critical` makes a
gate fail closed outside Dagster too.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

from great_expectations.expectations.metadata_types import FailureSeverity

from reengage.defs.quality.masking import scrub

SEVERITIES: tuple[FailureSeverity, ...] = (
    FailureSeverity.CRITICAL,
    FailureSeverity.WARNING,
    FailureSeverity.INFO,
)


class QualityGateError(RuntimeError):
    """The suite could not be run at all (bad suite file, missing warehouse, table or column).

    Raised instead of returning an outcome, so a broken gate can never read as a passing one.
    """


class QualityGateFailed(RuntimeError):
    """A critical expectation failed; raised by `SuiteOutcome.raise_for_critical`."""

    def __init__(self, outcome: SuiteOutcome) -> None:
        super().__init__(outcome.summary)
        self.outcome = outcome


@dataclasses.dataclass(frozen=True)
class ExpectationOutcome:
    """One expectation's verdict, reduced to what a person on call needs, with no personal data."""

    expectation_type: str
    column: str | None
    severity: FailureSeverity
    success: bool
    unexpected_count: int | None = None
    element_count: int | None = None
    observed_value: str | None = None
    examples: tuple[str, ...] = ()
    values_masked: bool = False
    error: str | None = None

    def describe(self) -> str:
        where = f" on {self.column}" if self.column else ""
        head = f"{self.severity.value}: {self.expectation_type}{where}"
        if self.error:
            return f"{head}: could not be evaluated ({self.error})"
        if self.unexpected_count is not None:
            of = f" of {self.element_count:,}" if self.element_count is not None else ""
            text = f"{head}: {self.unexpected_count:,}{of} rows unexpected"
            if self.values_masked:
                return f"{text} (values masked)"
            return f"{text}, e.g. {', '.join(self.examples)}" if self.examples else text
        if self.observed_value is not None:
            return f"{head}: observed {self.observed_value}"
        return head


@dataclasses.dataclass(frozen=True)
class SuiteOutcome:
    """A suite's run over one partition: every expectation's outcome plus the roll-ups a gate needs."""

    suite_name: str
    table: str
    partition_date: date | None
    results: tuple[ExpectationOutcome, ...]
    row_count: int | None = None
    data_docs_path: Path | None = None
    note: str | None = None

    @property
    def success(self) -> bool:
        return all(r.success for r in self.results)

    @property
    def failures(self) -> tuple[ExpectationOutcome, ...]:
        """Failed expectations, most severe first."""
        failed = [r for r in self.results if not r.success]
        return tuple(sorted(failed, key=lambda r: SEVERITIES.index(r.severity)))

    @property
    def failures_by_severity(self) -> dict[str, int]:
        counts = {s.value: 0 for s in SEVERITIES}
        for r in self.failures:
            counts[r.severity.value] += 1
        return counts

    @property
    def has_critical_failure(self) -> bool:
        return self.failures_by_severity[FailureSeverity.CRITICAL.value] > 0

    @property
    def summary(self) -> str:
        if self.partition_date:
            scope = f" for {self.partition_date.isoformat()}"
        else:
            scope = "" if self.note else " for the whole table"
        rows = f" over {self.row_count:,} rows" if self.row_count is not None else ""
        note = f" ({self.note})" if self.note else ""
        head = f"{self.suite_name} on {self.table}{scope}{note}"
        if self.success:
            return f"{head}: all {len(self.results)} expectations passed{rows}."
        counts = ", ".join(f"{n} {s}" for s, n in self.failures_by_severity.items())
        lines = [f"{head}: {len(self.failures)} of {len(self.results)} expectations failed ({counts}){rows}."]
        lines += [f"- {r.describe()}" for r in self.failures]
        return scrub("\n".join(lines))

    def raise_for_critical(self) -> None:
        """Fail closed outside Dagster too: callers that gate on a suite get an exception, not a flag."""
        if self.has_critical_failure:
            raise QualityGateFailed(self)
