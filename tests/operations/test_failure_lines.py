"""The one line a failed step gets on the command line and in the demo (reengage.runs.failures)."""

from __future__ import annotations

import dagster as dg

from reengage.runs import failures


def test_a_failed_blocking_check_is_told_with_the_checks_it_names() -> None:
    # Guards "1 blocking asset check failed with ERROR severity:" ending the line: Dagster names the
    # failed checks on the lines after it, so a backfill's one-line failure never said which gate.
    @dg.asset
    def exports() -> None:
        pass

    @dg.asset_check(asset=exports, blocking=True)
    def exports_are_fresh() -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.ERROR)

    @dg.asset(deps=[exports])
    def downstream() -> None:
        pass

    result = dg.materialize([exports, exports_are_fresh, downstream], raise_on_error=False)
    (line,) = failures(result)
    assert line.endswith("1 blocking asset check failed with ERROR severity: exports: exports_are_fresh"), (
        line
    )
    assert "dagster._core" not in line


def test_a_steps_own_error_keeps_its_first_line_and_kind() -> None:
    @dg.asset
    def broken() -> None:
        raise ValueError("the landing folder is gone\nsecond line")

    (line,) = failures(dg.materialize([broken], raise_on_error=False))
    assert line == "broken: ValueError: the landing folder is gone"
