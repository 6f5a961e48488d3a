"""Run a Great Expectations suite against one day of one warehouse table.

Pure logic, no Dagster: the asset checks in `checks.py`, the tests and the
benchmark all call `validate_table`. Each call builds an ephemeral GE context,
pushes the suite down to the warehouse as SQL over a read-only connection (the
table is never loaded into pandas), and closes every connection before
returning, because dbt and the other stages open the same file next and DuckDB
allows one writing process at a time. On the PostgreSQL warehouse
(`REENGAGE_WAREHOUSE_KIND=postgres`) GE talks to PostgreSQL itself through
SQLAlchemy's psycopg2 dialect, in read-only transactions.

Suites are plain GE 1.x JSON files in `expectations/`; each expectation carries
GE's native `severity` (critical, warning, info). The suite's `meta` says which
column partitions the table (`partition_column`), and the parameters
`partition_date`, `partition_start` and `partition_end` (the UTC day) are
supplied to every run so an expectation can say "not after the end of the day".
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import duckdb
import duckdb_engine
import great_expectations as gx
import sqlalchemy as sa
from great_expectations.core.expectation_validation_result import (
    ExpectationSuiteValidationResult,
    ExpectationValidationResult,
)
from great_expectations.core.run_identifier import RunIdentifier
from great_expectations.data_context.types.base import (
    DataContextConfig,
    InMemoryStoreBackendDefaults,
    ProgressBarsConfig,
)
from great_expectations.data_context.types.resource_identifiers import (
    ExpectationSuiteIdentifier,
    ValidationResultIdentifier,
)
from great_expectations.expectations.expectation_configuration import ExpectationConfiguration
from great_expectations.expectations.metadata_types import FailureSeverity
from sqlalchemy.dialects import postgresql, registry

from orchestration import settings
from orchestration import warehouse as wh
from orchestration.emails import IN_TEXT
from orchestration.privacy.keys import COLUMN_KINDS
from orchestration.tables import column_types

logger = logging.getLogger(__name__)

SEVERITIES: tuple[FailureSeverity, ...] = (
    FailureSeverity.CRITICAL,
    FailureSeverity.WARNING,
    FailureSeverity.INFO,
)
EXAMPLES_PER_EXPECTATION = 3
# The checks run inside the Dagster process, next to other stages; DuckDB would otherwise take up
# to 80% of RAM. count(distinct) over a 50-million-row day peaked at 3.2 GiB RSS without a limit
# and 1.3 GiB with this one (DuckDB spills the rest to disk).
DEFAULT_DUCKDB_CONFIG: Mapping[str, str] = {"memory_limit": "1GB"}
MASK = "<masked>"
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_RESULT_VALUE_KEYS = (
    "partial_unexpected_list",
    "unexpected_list",
    "partial_unexpected_index_list",
    "unexpected_index_list",
    "details",
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
    return IN_TEXT.sub(MASK, text)


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
    if partition_column is not None and not _IDENTIFIER.fullmatch(str(partition_column)):
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
) -> SuiteOutcome:
    """Validate `table` with the suite `<expectations_dir>/<suite_name>.json`.

    With a `partition_column` in the suite's meta, only that day's rows are validated: the
    given `partition_date`, or the latest loaded one when it is None. A suite without one
    validates the whole table (a mart rebuilt every run). `data_docs_dir`, when given, gets
    GE Data Docs HTML for this run. `duckdb_config` adds to or overrides
    `DEFAULT_DUCKDB_CONFIG` (memory_limit, threads) on the validation connection.
    `kind` is the warehouse's (default `settings.warehouse_kind()`); on PostgreSQL
    `warehouse_path` is unused and the PG* variables say where the database is.
    """
    suite = load_suite(Path(expectations_dir) / f"{suite_name}.json")
    kind = kind or settings.warehouse_kind()
    path = Path(warehouse_path)
    if kind == "duckdb" and not path.exists():
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

    context = _ephemeral_context(Path(data_docs_dir) if data_docs_dir else None)
    if kind == "postgres":
        url, connect_args = _postgres_url(), POSTGRES_READ_ONLY_ARGS
    else:
        url = _connection_url(path)
        connect_args = {"read_only": True, "config": {**DEFAULT_DUCKDB_CONFIG, **(duckdb_config or {})}}
    try:
        datasource = context.data_sources.add_sql(
            name="warehouse", connection_string=url, kwargs={"connect_args": connect_args}
        )
    except Exception as exc:  # GE wraps the driver's error (a lock held by a writer, a bad setting)
        raise QualityGateError(f"cannot connect to {where} read-only: {scrub(str(exc))[:500]}") from exc
    try:
        asset = datasource.add_query_asset(name=f"{schema}.{name}", query=query)
        batch = asset.add_batch_definition_whole_table(name=day.isoformat() if day else "whole_table")
        suite = context.suites.add(suite)
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=f"{suite_name} {table}", data=batch, suite=suite)
        )
        # run_time explicitly: given only a date-like run_name, GE parses it into the run time.
        run_id = RunIdentifier(run_name=parameters["partition_date"], run_time=datetime.now(UTC))
        result = definition.run(
            expectation_parameters=parameters,
            result_format={
                "result_format": "SUMMARY",
                "partial_unexpected_count": 2 * EXAMPLES_PER_EXPECTATION,
            },
            run_id=run_id,
        )
    finally:
        _close(datasource)

    _mask_personal_values(result)
    outcome = _outcome(result, suite_name, table, day if partition_column else None, note)
    if data_docs_dir:
        docs = _write_data_docs(context, result, suite.name, run_id)
        outcome = dataclasses.replace(outcome, data_docs_path=docs)
    return outcome


# --- DuckDB through SQLAlchemy ------------------------------------------------------------


class GXReadOnlyDuckDBDialect(duckdb_engine.Dialect):
    """duckdb-engine, adjusted for Great Expectations' read-only validation queries.

    Two mismatches between GE 1.x and duckdb-engine, both found the hard way:

    * GE's `execute_query` returns a result after leaving `with engine.connect()`; closing
      the connection rolls back its transaction, and duckdb-engine's cursor *is* the DuckDB
      connection, so the ROLLBACK replaces the pending result and every metric comes back
      empty (`IndexError` in `resolve_metric_bundle`; reported upstream at
      https://github.com/great-expectations/great_expectations/issues/10738 and .../issues/11579).
      A validation connection only reads, so transactions are no-ops here.
    * GE chooses regex and LIKE SQL by probing `dialect.dialect` for a PostgreSQL dialect and
      raises "Regex is not supported for dialect duckdb" otherwise; DuckDB speaks
      PostgreSQL's `~` and LIKE, so the probe is pointed there (on the instance: SQLAlchemy
      itself follows a class attribute of that name when it loads a dialect).
    """

    supports_statement_cache = False

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dialect = postgresql.dialect

    def do_begin(self, dbapi_connection: Any) -> None:
        pass

    def do_commit(self, dbapi_connection: Any) -> None:
        pass

    def do_rollback(self, dbapi_connection: Any) -> None:
        pass


_DRIVER = "gxreadonly"
registry.register(f"duckdb.{_DRIVER}", __name__, "GXReadOnlyDuckDBDialect")


def _connection_url(path: Path) -> str:
    return sa.engine.URL.create(f"duckdb+{_DRIVER}", database=str(path.resolve())).render_as_string(
        hide_password=False
    )


# --- PostgreSQL through SQLAlchemy -----------------------------------------------------------

# Every transaction of a validation connection is read-only: a suite can never change a table.
POSTGRES_READ_ONLY_ARGS: Mapping[str, str] = {"options": "-c default_transaction_read_only=on"}


def _postgres_url() -> str:
    """`postgresql+psycopg2://user@host:port/db` from the PG* variables, without a password.

    libpq reads PGPASSWORD (or ~/.pgpass) itself, so the secret is in no URL that GE keeps in
    its datasource config or an error message could show.
    """
    p = settings.postgres_params()
    url = sa.engine.URL.create(
        "postgresql+psycopg2", username=p["user"], host=p["host"], port=int(p["port"]), database=p["dbname"]
    )
    return url.render_as_string(hide_password=False)


def _close(datasource: Any) -> None:
    """Dispose both engines GE made (the datasource's and the execution engine's) and their pools."""
    for close in (
        lambda: datasource.get_execution_engine().close(),
        lambda: datasource.get_engine().dispose(),
    ):
        try:
            close()
        except Exception:  # closing must not mask the validation's own error
            logger.exception("closing a Great Expectations engine failed")


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
    if len(parts) != 2 or not all(_IDENTIFIER.fullmatch(p) for p in parts):
        raise QualityGateError(f"{table!r} is not a table name of the form schema.table")
    return parts[0], parts[1]


def _table_columns(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> set[str]:
    return set(column_types(con, f"{schema}.{name}"))


# --- Great Expectations context, results and Data Docs --------------------------------------


def _ephemeral_context(data_docs_dir: Path | None) -> Any:
    """An in-memory context: nothing written except Data Docs, no analytics, no progress bars."""
    sites = {}
    if data_docs_dir is not None:
        sites["local"] = {
            "class_name": "SiteBuilder",
            "show_how_to_buttons": False,
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(data_docs_dir),
            },
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        }
    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
        data_docs_sites=sites,
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def _columns_of(kwargs: Mapping[str, Any]) -> list[str]:
    if kwargs.get("column"):
        return [kwargs["column"]]
    if kwargs.get("column_A"):
        return [kwargs["column_A"], kwargs["column_B"]]
    return list(kwargs.get("column_list") or [])


def _mask_personal_values(result: ExpectationSuiteValidationResult) -> None:
    """Replace example values of personal columns, and any address anywhere, in place.

    Runs before the outcome or Data Docs see the result, so neither can leak an address.
    """
    for r in result.results:
        details = r.result or {}
        if any(is_masked_column(c) for c in _columns_of(r.expectation_config.kwargs)):
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


def _outcome(
    result: ExpectationSuiteValidationResult,
    suite_name: str,
    table: str,
    day: date | None,
    note: str | None,
) -> SuiteOutcome:
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
    columns = _columns_of(config.kwargs)
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


def _write_data_docs(
    context: Any, result: ExpectationSuiteValidationResult, suite_name: str, run_id: RunIdentifier
) -> Path | None:
    """Render this run into the Data Docs site; optional, so a rendering problem only warns.

    The validation already stored the unmasked result in the in-memory store; it is
    overwritten with the masked one first, so the HTML never shows an address.
    """
    try:
        suite_id = ExpectationSuiteIdentifier(name=suite_name)
        key = ValidationResultIdentifier(
            expectation_suite_identifier=suite_id, run_id=run_id, batch_identifier=result.batch_id
        )
        context.validation_results_store.set(key, result)
        context.build_data_docs(site_names=["local"], resource_identifiers=[key, suite_id])
        url = context.get_docs_sites_urls(resource_identifier=key, site_names=["local"])[0]["site_url"]
        return Path(unquote(url.removeprefix("file://"))) if url else None
    except Exception:
        logger.warning("could not write Data Docs for %s", suite_name, exc_info=True)
        return None
