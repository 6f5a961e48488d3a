"""The suites as blocking Dagster asset checks: a critical failure stops downstream assets in the same run,
warnings only warn, and neither metadata nor descriptions carry an email address."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from great_expectations.expectations.metadata_types import FailureSeverity
from quality_world import DAY, create_raw_tables, good_row, insert_rows

from reengage import settings
from reengage.defs.quality import checks
from reengage.defs.quality.checks import SuiteCheckSpec, build_suite_check, check_result
from reengage.defs.quality.findings import ExpectationOutcome, SuiteOutcome
from reengage.partitions import daily_partitions
from reengage.warehouse import WarehouseResource

RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


def _run(
    warehouse: Path, table: str, rows: Sequence[dict[str, Any]], days: tuple[date, date] | None = None
) -> tuple[dg.ExecuteInProcessResult, list[str]]:
    """Materialize a stand-in for the ingest asset (same key) that writes `rows`, its check and a consumer.

    `days` (first, last) makes it one ranged run, as a backfill of the history is; else DAY alone.
    """
    downstream_ran: list[str] = []

    @dg.asset(key=["raw", table], partitions_def=daily_partitions)
    def raw_table(warehouse: WarehouseResource) -> None:
        with warehouse.connect() as con:
            create_raw_tables(con)
            insert_rows(con, table, rows)

    @dg.asset(deps=[dg.AssetKey(["raw", table])], partitions_def=daily_partitions)
    def consumer() -> None:
        downstream_ran.append("consumer")

    check = getattr(checks, f"raw_{table}_expectations")
    first, last = days or (DAY, DAY)
    result = dg.materialize(
        [raw_table, consumer, check],
        **(
            {"partition_key": DAY.isoformat()}
            if days is None
            else {"tags": {RANGE_START: first.isoformat(), RANGE_END: last.isoformat()}}
        ),
        resources={"warehouse": WarehouseResource(path=str(warehouse))},
        raise_on_error=False,
    )
    return result, downstream_ran


def _evaluation(result: dg.ExecuteInProcessResult) -> dg.AssetCheckEvaluation:
    (evaluation,) = result.get_asset_check_evaluations()
    return evaluation


def _metadata(evaluation: dg.AssetCheckEvaluation) -> dict[str, Any]:
    return {k: getattr(v, "value", v) for k, v in evaluation.metadata.items()}


def test_a_critical_failure_is_an_error_that_stops_downstream_assets(tmp_path: Path) -> None:
    rows = [good_row("events", n) for n in range(5)] + [good_row("events", 9, event_id=None)]
    result, downstream_ran = _run(tmp_path / "w.duckdb", "events", rows)

    evaluation = _evaluation(result)
    assert not evaluation.passed
    assert evaluation.severity == dg.AssetCheckSeverity.ERROR
    assert evaluation.blocking
    assert downstream_ran == []
    assert not result.success
    metadata = _metadata(evaluation)
    assert metadata["failed_critical"] == 1 and metadata["failed_warning"] == 0
    assert "critical · expect_column_values_to_not_be_null · event_id" in metadata["failing_expectations"]
    assert metadata["rows_validated"] == 6
    # Data Docs are one click away in the UI: this run's page and the site's index under the URL
    # `reengage docs` serves (data_docs.url), and the page's path for a shell.
    assert isinstance(evaluation.metadata["data_docs"], dg.UrlMetadataValue)
    page = Path(metadata["data_docs_path"])
    assert page.exists() and page.is_relative_to(settings.data_docs_dir() / "site")
    relative = page.relative_to(settings.data_docs_dir() / "site").as_posix()
    assert metadata["data_docs"] == f"http://127.0.0.1:3001/{relative}"
    assert metadata["data_docs_index"] == "http://127.0.0.1:3001/index.html"
    assert "event_id" in (evaluation.description or "")


def test_a_backfill_renders_data_docs_for_its_last_day_and_its_failed_days_only(
    tmp_path: Path, isolated_home: Path
) -> None:
    # Guards the history load's cost (a page costs as much as a validation: 60 days x 3 gates
    # rendered every page) without losing a page anyone opens: a failed day's and the last day's.
    days = [DAY - timedelta(days=k) for k in (3, 2, 1, 0)]
    failed = days[1]
    rows = [good_row("events", n, day) for day in days for n in range(3)]
    rows.append(good_row("events", 9, failed, event_id=None))
    result, _ = _run(tmp_path / "w.duckdb", "events", rows, days=(days[0], days[-1]))

    metadata = _metadata(_evaluation(result))
    assert metadata["partition_dates"] == ", ".join(d.isoformat() for d in days)
    pages = isolated_home / "data_docs" / "site" / "validations" / "raw_events"
    assert sorted(p.name for p in pages.iterdir()) == [failed.isoformat(), DAY.isoformat()]
    # The page the UI links to first is the failed day's.
    assert Path(metadata["data_docs_path"]).is_relative_to(pages / failed.isoformat())


def test_every_checks_data_docs_link_still_opens_after_the_other_checks_ran(
    tmp_path: Path, isolated_home: Path
) -> None:
    # Guards the site where only the last suite validated kept its HTML: each raw_* check's link
    # in the UI opened a missing file, and the index listed one suite.
    warehouse = tmp_path / "w.duckdb"
    pages = []
    for table in ("customers", "events", "email_events"):
        result, _ = _run(warehouse, table, [good_row(table, n) for n in range(3)])
        pages.append(_metadata(_evaluation(result))["data_docs_path"])
    assert all(Path(page).is_file() for page in pages), pages
    index = (isolated_home / "data_docs" / "site" / "index.html").read_text()
    assert all(suite in index for suite in ("raw_customers", "raw_events", "raw_email_events"))


def test_warnings_alone_warn_and_let_downstream_assets_run(tmp_path: Path) -> None:
    rows = [good_row("events", n) for n in range(5)] + [good_row("events", 9, event_name="teleport")]
    result, downstream_ran = _run(tmp_path / "w.duckdb", "events", rows)

    evaluation = _evaluation(result)
    assert not evaluation.passed
    assert evaluation.severity == dg.AssetCheckSeverity.WARN
    assert downstream_ran == ["consumer"]
    assert result.success


def test_a_clean_partition_passes(tmp_path: Path) -> None:
    result, downstream_ran = _run(tmp_path / "w.duckdb", "email_events", [good_row("email_events", 1)])
    evaluation = _evaluation(result)
    assert evaluation.passed
    assert _metadata(evaluation)["partition_dates"] == DAY.isoformat()
    assert downstream_ran == ["consumer"]


def test_no_email_address_reaches_check_metadata_or_description(tmp_path: Path) -> None:
    rows = [good_row("customers", n) for n in range(3)] + [
        good_row("customers", 5, email="eve@@example.com", customer_id=None),
        good_row("customers", 6, email="mallory@example.org", timezone="mallory@@example"),
    ]
    result, downstream_ran = _run(tmp_path / "w.duckdb", "customers", rows)
    evaluation = _evaluation(result)
    assert evaluation.severity == dg.AssetCheckSeverity.ERROR and downstream_ran == []
    text = (evaluation.description or "") + json.dumps(_metadata(evaluation), default=str)
    assert "timezone" in text and "email" in text
    assert "@" not in text, text


def test_a_gate_that_cannot_run_fails_closed_and_blocks(tmp_path: Path) -> None:
    spec = SuiteCheckSpec(dg.AssetKey(["raw", "events"]), "raw.events_that_do_not_exist", "raw_events")
    missing_table_check = build_suite_check(spec)
    downstream_ran: list[str] = []

    @dg.asset(key=["raw", "events"], partitions_def=daily_partitions)
    def raw_events(warehouse: WarehouseResource) -> None:
        with warehouse.connect() as con:
            create_raw_tables(con)

    @dg.asset(deps=[dg.AssetKey(["raw", "events"])], partitions_def=daily_partitions)
    def consumer() -> None:
        downstream_ran.append("consumer")

    result = dg.materialize(
        [raw_events, consumer, missing_table_check],
        partition_key=DAY.isoformat(),
        resources={"warehouse": WarehouseResource(path=str(tmp_path / "w.duckdb"))},
        raise_on_error=False,
    )
    evaluation = _evaluation(result)
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR
    assert "does not exist" in (evaluation.description or "")
    assert downstream_ran == []


def test_the_raw_tables_each_have_one_blocking_suite_check() -> None:
    defined = [
        checks.raw_customers_expectations,
        checks.raw_events_expectations,
        checks.raw_email_events_expectations,
    ]
    specs = [spec for check in defined for spec in check.check_specs]
    assert {s.asset_key for s in specs} == {
        dg.AssetKey(["raw", t]) for t in ("customers", "events", "email_events")
    }
    assert all(s.blocking for s in specs)


def _outcome(*severities: str) -> SuiteOutcome:
    results = tuple(
        ExpectationOutcome(
            "expect_column_values_to_not_be_null", f"col{i}", FailureSeverity(s), success=False
        )
        for i, s in enumerate(severities)
    ) + (ExpectationOutcome("expect_table_row_count_to_be_between", None, FailureSeverity.CRITICAL, True),)
    return SuiteOutcome("raw_events", "raw.events", DAY, results, row_count=10)


@pytest.mark.parametrize(
    "severities, passed, severity",
    [
        ((), True, None),
        (("info",), True, None),
        (("warning", "info"), False, dg.AssetCheckSeverity.WARN),
        (("critical", "warning"), False, dg.AssetCheckSeverity.ERROR),
    ],
)
def test_check_severity_follows_the_worst_failed_expectation(
    severities: tuple[str, ...], passed: bool, severity: dg.AssetCheckSeverity | None
) -> None:
    result = check_result([_outcome(*severities)])
    assert result.passed is passed
    if severity is not None:
        assert result.severity == severity
    assert result.metadata["failed_info"].value == severities.count("info")
