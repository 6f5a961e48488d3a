"""Validate one day of one warehouse table with its Great Expectations suite: the gate's entry point.

Pure logic, no Dagster: the asset checks in `checks.py`, the tests and the benchmark all
call `validate_table`. It finds the table and the day to validate, then hands the suite to
Great Expectations (`ge_run.py`, over the read-only connection of `ge_connections.py`),
masks personal values in the result (`masking.py`) and reduces it to findings
(`ge_results.py`, `findings.py`). Every connection is closed before returning, because dbt
and the other stages open the same file next and DuckDB allows one writing process at a
time. On the PostgreSQL warehouse (`REENGAGE_WAREHOUSE_KIND=postgres`) GE talks to
PostgreSQL itself through SQLAlchemy's psycopg2 dialect, in read-only transactions.

The suite's `meta` says which column partitions the table (`partition_column`), and the
parameters `partition_date`, `partition_start` and `partition_end` (the UTC day) are
supplied to every run so an expectation can say "not after the end of the day".
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import duckdb
import great_expectations as gx
from great_expectations.core.expectation_validation_result import ExpectationSuiteValidationResult
from great_expectations.core.run_identifier import RunIdentifier

from reengage import settings
from reengage import warehouse as wh
from reengage.defs.quality import data_docs
from reengage.defs.quality.findings import QualityGateError, SuiteOutcome
from reengage.defs.quality.ge_connections import connection
from reengage.defs.quality.ge_results import EXAMPLES_PER_EXPECTATION, suite_outcome
from reengage.defs.quality.ge_run import ephemeral_context, run_suite
from reengage.defs.quality.masking import mask_personal_values
from reengage.defs.quality.suites import IDENTIFIER, load_suite
from reengage.tables import column_types

logger = logging.getLogger(__name__)


def validate_table(
    warehouse_path: Path | str,
    table: str,
    suite_name: str,
    partition_date: date | str | None = None,
    *,
    expectations_dir: Path | str = settings.EXPECTATIONS_DIR,
    data_docs_dir: Path | str | None = None,
    duckdb_config: Mapping[str, str] | None = None,
    kind: str | None = None,
    data_docs_when_passed: bool = True,
    data_docs_retention_days: int | None = None,
) -> SuiteOutcome:
    """Validate `table` with the suite `<expectations_dir>/<suite_name>.json`.

    With a `partition_column` in the suite's meta, only that day's rows are validated: the
    given `partition_date`, or the latest loaded one when it is None. A suite without one
    validates the whole table (a mart rebuilt every run). `data_docs_dir`, when given, is the
    Data Docs root (`data_docs.py`) this run is rendered into (only when an expectation failed, if
    `data_docs_when_passed` is False), pruning results older than `data_docs_retention_days`
    (default: the data_docs.retention_days setting). `duckdb_config` adds to or overrides
    `ge_connections.DEFAULT_DUCKDB_CONFIG` (memory_limit, threads) on the validation connection.
    `kind` is the warehouse's (default `settings.warehouse_kind()`); on PostgreSQL
    `warehouse_path` is unused and the PG* variables say where the database is.
    """
    suite = load_suite(Path(expectations_dir) / f"{suite_name}.json")
    kind = kind or settings.warehouse_kind()
    path = Path(warehouse_path)
    if kind != "postgres" and not path.exists():  # the DuckDB file (on Spark, with its views)
        raise QualityGateError(f"warehouse {path} does not exist")
    where = wh.describe(path, kind)
    schema, name = _split_table(table)
    partition_column: str | None = suite.meta.get("partition_column")
    day = _as_date(partition_date)
    note = None
    with _read_only(path, kind) as con:
        columns = _table_columns(con, schema, name)
        if not columns:
            raise QualityGateError(f"table {table} does not exist in {where}")
        if partition_column and partition_column not in columns:
            raise QualityGateError(f"table {table} has no partition column {partition_column}")
        if partition_column and day is None:
            day = con.execute(f'select max("{partition_column}") from "{schema}"."{name}"').fetchone()[0]
            note = "latest loaded partition" if day else "no partition loaded yet"

    query = f'select * from "{schema}"."{name}"'
    if partition_column:
        query += f" where \"{partition_column}\" = date '{day.isoformat()}'" if day else " where false"
    window_day = day or datetime.now(UTC).date()
    start = datetime.combine(window_day, time(0), tzinfo=UTC)
    parameters = {
        "partition_date": window_day.isoformat(),
        "partition_start": start.isoformat(),
        "partition_end": (start + timedelta(days=1)).isoformat(),
    }

    context = ephemeral_context()
    url, connect_args = connection(kind, path, duckdb_config)
    result, run_id = run_suite(
        context,
        suite,
        url=url,
        connect_args=connect_args,
        where=where,
        asset_name=f"{schema}.{name}",
        query=query,
        batch_name=day.isoformat() if day else "whole_table",
        definition_name=f"{suite_name} {table}",
        parameters=parameters,
        partial_unexpected_count=2 * EXAMPLES_PER_EXPECTATION,
    )
    mask_personal_values(result)
    outcome = suite_outcome(result, suite_name, table, day if partition_column else None, note)
    if data_docs_dir and (data_docs_when_passed or outcome.failures):
        retention = (
            settings.data_docs_retention_days()
            if data_docs_retention_days is None
            else data_docs_retention_days
        )
        outcome = dataclasses.replace(
            outcome, data_docs_path=_publish(Path(data_docs_dir), result, suite, run_id, retention)
        )
    return outcome


def _publish(
    root: Path,
    result: ExpectationSuiteValidationResult,
    suite: gx.ExpectationSuite,
    run_id: RunIdentifier,
    retention_days: int,
) -> Path | None:
    """Render the run into the Data Docs site; optional, so a rendering problem only warns."""
    try:
        return data_docs.publish(root, result, suite, run_id, retention_days=retention_days)
    except Exception:
        logger.warning("could not write Data Docs for %s", suite.name, exc_info=True)
        return None


@contextmanager
def _read_only(path: Path, kind: str) -> Iterator[duckdb.DuckDBPyConnection]:
    """The warehouse module's read-only connection, for the catalog probes before GE runs."""
    with ExitStack() as stack:
        try:
            con = stack.enter_context(wh.connect(path, read_only=True, kind=kind))
        except duckdb.Error as exc:  # only opening is a "cannot open"; query errors stay themselves
            raise QualityGateError(f"cannot open {wh.describe(path, kind)} read-only: {exc}") from exc
        yield con


def _as_date(value: date | str | None) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    return date.fromisoformat(value) if isinstance(value, str) else value


def _split_table(table: str) -> tuple[str, str]:
    parts = table.split(".")
    if len(parts) == 1:
        parts = ["main", *parts]
    if len(parts) != 2 or not all(IDENTIFIER.fullmatch(p) for p in parts):
        raise QualityGateError(f"{table!r} is not a table name of the form schema.table")
    return parts[0], parts[1]


def _table_columns(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> set[str]:
    return set(column_types(con, f"{schema}.{name}"))
