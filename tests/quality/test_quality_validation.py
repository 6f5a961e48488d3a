"""validate_table on a temporary DuckDB file: good days pass, each kind of bad row fails the right
expectation at the right severity, and no email address ever leaves the warehouse."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from quality_world import DAY, good_row

from reengage import settings
from reengage.defs.quality.findings import QualityGateError, QualityGateFailed, SuiteOutcome
from reengage.defs.quality.validation import validate_table

Load = Callable[..., None]
TABLES = {"customers": "raw_customers", "events": "raw_events", "email_events": "raw_email_events"}


def _validate(warehouse: Path, table: str, day: date | None = DAY, **kwargs: Any) -> SuiteOutcome:
    return validate_table(warehouse, f"raw.{table}", TABLES[table], day, **kwargs)


def _failed(outcome: SuiteOutcome) -> set[tuple[str, str | None, str]]:
    return {(r.expectation_type, r.column, r.severity.value) for r in outcome.failures}


@pytest.mark.parametrize("table", TABLES)
def test_a_clean_day_passes_every_expectation(warehouse: Path, load: Load, table: str) -> None:
    load(table, [good_row(table, n) for n in range(5)])
    outcome = _validate(warehouse, table)
    assert outcome.success, outcome.summary
    assert outcome.failures_by_severity == {"critical": 0, "warning": 0, "info": 0}
    assert outcome.row_count == 5
    assert "all" in outcome.summary and "passed" in outcome.summary


NOT_NULL = "expect_column_values_to_not_be_null"
BETWEEN = "expect_column_values_to_be_between"
IN_SET = "expect_column_values_to_be_in_set"
UNIQUE = "expect_column_values_to_be_unique"
REGEX = "expect_column_values_to_match_regex"
ALL_DISTINCT = "expect_column_proportion_of_unique_values_to_be_between"

# Each kind of bad row, with the one expectation it must fail (column, severity). Every table's bad rows
# go into one partition next to plenty of good ones, and exactly these expectations may fail: a bad row
# that tripped a second expectation, or none, shows up as a difference.
BAD_ROWS: dict[str, list[tuple[dict[str, Any], str, str, str]]] = {
    "events": [
        ({"event_id": None}, NOT_NULL, "event_id", "critical"),
        ({"event_name": None}, NOT_NULL, "event_name", "critical"),
        ({"user_id": None, "anonymous_id": None}, NOT_NULL, "user_id", "critical"),
        ({"event_ts": None}, NOT_NULL, "event_ts", "critical"),
        ({"event_ts": "2024-05-02 00:00:00+00"}, BETWEEN, "event_ts", "critical"),
        ({"event_ts": "1999-12-31 23:00:00+00"}, BETWEEN, "event_ts", "critical"),
        ({"event_name": "teleport"}, IN_SET, "event_name", "warning"),
        ({"event_id": "ev-2024-05-01-0"}, ALL_DISTINCT, "event_id", "warning"),
    ],
    "customers": [
        ({"customer_id": None}, NOT_NULL, "customer_id", "critical"),
        ({"customer_id": "c0"}, UNIQUE, "customer_id", "critical"),
        ({"email": "no-at-sign.example.com"}, REGEX, "email", "warning"),
        ({"timezone": None}, NOT_NULL, "timezone", "critical"),
        ({"timezone": "Not A Zone"}, REGEX, "timezone", "warning"),
        ({"lifetime_value": -5e9}, BETWEEN, "lifetime_value", "warning"),
        ({"marketing_consent": None}, NOT_NULL, "marketing_consent", "critical"),
        ({"signup_at": "2024-05-03 00:00:00+00"}, BETWEEN, "signup_at", "warning"),
    ],
    "email_events": [
        ({"event": "opened"}, IN_SET, "event", "critical"),
        ({"event": None}, NOT_NULL, "event", "critical"),
        ({"email": None}, NOT_NULL, "email", "critical"),
        ({"timestamp": None}, NOT_NULL, "timestamp", "critical"),
        ({"timestamp": "2024-05-02 06:00:00+00"}, BETWEEN, "timestamp", "warning"),
        ({"send_id": "not-a-send-id"}, REGEX, "send_id", "warning"),
        ({"sg_event_id": "sge2024-05-010"}, UNIQUE, "sg_event_id", "info"),
    ],
}


@pytest.mark.parametrize("table", BAD_ROWS)
def test_each_kind_of_bad_row_fails_its_own_expectation_with_its_severity(
    warehouse: Path, load: Load, table: str
) -> None:
    cases = BAD_ROWS[table]
    good = [good_row(table, n) for n in range(60)]
    load(table, good + [good_row(table, 100 + i, **spoil) for i, (spoil, *_) in enumerate(cases)])
    outcome = _validate(warehouse, table)

    expected = {(expectation, column, severity) for _, expectation, column, severity in cases}
    assert _failed(outcome) == expected, outcome.summary
    for severity in ("critical", "warning", "info"):
        assert outcome.failures_by_severity[severity] == sum(1 for *_, s in expected if s == severity)
    assert outcome.has_critical_failure == any(s == "critical" for *_, s in expected)
    for expectation, column, severity in expected:
        failure = next(r for r in outcome.failures if (r.expectation_type, r.column) == (expectation, column))
        head = f"- {severity}: {expectation} on {column}: "
        if expectation == ALL_DISTINCT:  # an aggregate: the observed share of distinct values, no rows
            assert failure.unexpected_count is None and float(failure.observed_value or 1) < 1
            assert f"{head}observed " in outcome.summary, outcome.summary
            continue
        rows = sum(1 for _, e, c, _ in cases if (e, c) == (expectation, column))
        # A duplicate counts both copies as unexpected.
        assert failure.unexpected_count == (2 * rows if expectation == UNIQUE else rows)
        assert f"{head}{failure.unexpected_count} of" in outcome.summary, outcome.summary


def test_a_warning_alone_is_not_a_critical_failure(warehouse: Path, load: Load) -> None:
    load("events", [good_row("events", n) for n in range(5)] + [good_row("events", 9, event_name="teleport")])
    outcome = _validate(warehouse, "events")
    assert not outcome.success
    assert not outcome.has_critical_failure
    outcome.raise_for_critical()  # does not raise


def test_raise_for_critical_fails_closed_with_the_summary(warehouse: Path, load: Load) -> None:
    load("events", [good_row("events", 0, event_id=None)])
    outcome = _validate(warehouse, "events")
    with pytest.raises(QualityGateFailed, match="event_id"):
        outcome.raise_for_critical()


def test_the_summary_gives_counts_and_example_values(warehouse: Path, load: Load) -> None:
    load("events", [good_row("events", n) for n in range(4)] + [good_row("events", 7, event_name="teleport")])
    summary = _validate(warehouse, "events").summary
    assert "raw_events on raw.events for 2024-05-01" in summary
    assert "(0 critical, 1 warning, 0 info) over 5 rows" in summary
    assert (
        "expect_column_values_to_be_in_set on event_name: 1 of 5 rows unexpected, e.g. 'teleport'" in summary
    )


def test_only_the_requested_partition_is_validated(warehouse: Path, load: Load) -> None:
    earlier = DAY - timedelta(days=1)
    load("events", [good_row("events", n) for n in range(3)])
    load("events", [good_row("events", 5, day=earlier, event_id=None)])
    assert _validate(warehouse, "events").success
    assert not _validate(warehouse, "events", earlier).success


def test_without_a_date_the_latest_loaded_partition_is_validated(warehouse: Path, load: Load) -> None:
    load("events", [good_row("events", 0, day=DAY - timedelta(days=3), event_id=None)])
    load("events", [good_row("events", n) for n in range(3)])
    outcome = _validate(warehouse, "events", None)
    assert outcome.partition_date == DAY
    assert outcome.success
    assert "latest loaded partition" in outcome.summary


def test_an_empty_partition_fails_the_row_count_where_rows_are_required(warehouse: Path) -> None:
    events = _validate(warehouse, "events")
    assert ("expect_table_row_count_to_be_between", None, "critical") in _failed(events)
    # Email events are optional before the first send: an empty day is only informational.
    email = _validate(warehouse, "email_events")
    assert _failed(email) == {("expect_table_row_count_to_be_between", None, "info")}
    assert not email.has_critical_failure


def test_email_addresses_never_appear_in_summaries_or_data_docs(
    warehouse: Path, load: Load, tmp_path: Path
) -> None:
    docs = tmp_path / "docs"
    load(
        "customers",
        [good_row("customers", n) for n in range(3)]
        + [
            good_row("customers", 10, email="alice.smith@@example.com"),
            good_row("customers", 11, email="bob@example", customer_id="c0"),
            good_row("customers", 12, email="carol@example.org", timezone="carol@example.org"),
        ],
    )
    # A malformed address in a column that is not masked by name is still masked by shape.
    load("email_events", [good_row("email_events", 1, event="dave@@example")])
    outcomes = [
        _validate(warehouse, "customers", data_docs_dir=docs),
        _validate(warehouse, "email_events", data_docs_dir=docs),
    ]
    for outcome in outcomes:
        assert not outcome.success
        text = outcome.summary + json.dumps([r.__dict__ for r in outcome.results], default=str)
        assert "@" not in text, text
    assert "values masked" in outcomes[0].summary
    html = "".join(p.read_text(errors="ignore") for p in docs.rglob("*.html"))
    assert "expect_column_values_to_match_regex" in html or "match" in html
    # The pages and the results the site keeps to rebuild them (files an erasure cannot reach).
    written = "".join(p.read_text(errors="ignore") for p in docs.rglob("*") if p.suffix in (".html", ".json"))
    for address in ("alice.smith@@example.com", "bob@example", "carol@example.org", "dave@@example"):
        assert address not in written


def test_customer_ids_never_appear_in_summaries_or_data_docs(
    warehouse: Path, load: Load, tmp_path: Path
) -> None:
    # Guards example values from identifier columns: a duplicated customer id was quoted in the
    # check's description (Dagster's event log) and kept in the Data Docs, files that an erasure
    # of that customer cannot reach.
    docs = tmp_path / "docs"
    twice = [good_row("customers", n, customer_id="cus_4242424") for n in (10, 11)]
    load("customers", [good_row("customers", n) for n in range(3)] + twice)
    outcome = _validate(warehouse, "customers", data_docs_dir=docs)
    assert (UNIQUE, "customer_id", "critical") in _failed(outcome)
    assert "values masked" in outcome.summary
    text = outcome.summary + json.dumps([r.__dict__ for r in outcome.results], default=str)
    assert "cus_4242424" not in text
    written = [p for p in docs.rglob("*") if p.is_file()]
    assert written and all(b"cus_4242424" not in p.read_bytes() for p in written)


def test_data_docs_are_written_for_the_run(warehouse: Path, load: Load, tmp_path: Path) -> None:
    load("events", [good_row("events", n) for n in range(3)])
    outcome = _validate(warehouse, "events", data_docs_dir=tmp_path / "docs")
    assert outcome.data_docs_path is not None and outcome.data_docs_path.exists()
    assert outcome.data_docs_path.suffix == ".html"
    assert (tmp_path / "docs" / "site" / "index.html").exists()


def test_every_connection_is_closed_so_the_next_stage_can_write(warehouse: Path, load: Load) -> None:
    load("events", [good_row("events", n) for n in range(3)])
    _validate(warehouse, "events")
    # DuckDB refuses a read-write connection in a process that still holds a read-only one.
    con = duckdb.connect(str(warehouse))
    try:
        con.execute("delete from raw.events")
    finally:
        con.close()


def test_an_expectation_that_cannot_run_fails_closed_with_its_reason(
    warehouse: Path, load: Load, tmp_path: Path
) -> None:
    suite = json.loads((settings.EXPECTATIONS_DIR / "raw_events.json").read_text())
    suite["expectations"] = [
        {
            "type": "expect_column_values_to_not_be_null",
            "kwargs": {"column": "no_such_column"},
            "severity": "warning",
        }
    ]
    (tmp_path / "broken.json").write_text(json.dumps(suite))
    load("events", [good_row("events", 0)])
    outcome = validate_table(warehouse, "raw.events", "broken", DAY, expectations_dir=tmp_path)
    assert not outcome.success
    (failure,) = outcome.failures
    assert failure.severity.value == "warning" and failure.error
    assert "no_such_column" in outcome.summary and "could not be evaluated" in outcome.summary


@pytest.mark.parametrize(
    "table, suite, message",
    [
        ("raw.no_such_table", "raw_events", "does not exist"),
        ("raw.events", "no_such_suite", "cannot read suite"),
        ("events; drop table raw.events", "raw_events", "not a table name"),
    ],
)
def test_a_gate_that_cannot_run_raises_instead_of_passing(
    warehouse: Path, table: str, suite: str, message: str
) -> None:
    with pytest.raises(QualityGateError, match=message):
        validate_table(warehouse, table, suite, DAY)


def test_a_missing_warehouse_raises(tmp_path: Path) -> None:
    with pytest.raises(QualityGateError, match="does not exist"):
        validate_table(tmp_path / "nowhere.duckdb", "raw.events", "raw_events", DAY)


def test_a_warehouse_locked_by_a_writer_fails_closed_with_a_clear_message(
    warehouse: Path, load: Load
) -> None:
    load("events", [good_row("events", 0)])
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
            "print('ready', flush=True); time.sleep(60)",
            str(warehouse),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
        with pytest.raises(QualityGateError, match="read-only"):
            _validate(warehouse, "events")
    finally:
        writer.kill()
        writer.wait()


def test_a_features_row_without_a_known_consent_status_fails_the_features_suite_critically(
    warehouse: Path,
) -> None:
    # Guards consent failing safe: the policy mails only consent_status = 'granted'; a features mart whose
    # consent logic changed (a null or a new word) must stop delivery, not be guessed at.
    con = duckdb.connect(str(warehouse))
    try:
        con.execute("create schema marts")
        con.execute(
            "create table marts.fct_user_features as select * from (values "
            "('c1', 'granted'), ('c2', 'withdrawn'), ('c3', 'unverified'), ('c4', null), ('c5', 'maybe')"
            ") as t(customer_id, consent_status)"
        )
    finally:
        con.close()
    outcome = validate_table(warehouse, "marts.fct_user_features", "fct_user_features")
    assert _failed(outcome) == {
        (NOT_NULL, "consent_status", "critical"),
        (IN_SET, "consent_status", "critical"),
    }
    assert outcome.has_critical_failure
