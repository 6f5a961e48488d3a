"""Great Expectations suites as blocking Dagster asset checks on the tables they guard.

A failed critical expectation makes the check fail with severity ERROR, and because
the checks are blocking, nothing downstream of the table (dbt, scoring, delivery)
runs in that run: bad data stops before it reaches a customer's inbox. Failed
warnings give a WARN result and let the run continue.

Adding a gate is one line at the bottom: the asset key, the table and the suite
file's name (a dbt model's key via `model_key`, not a hard-coded key).

No `from __future__ import annotations` here: Dagster reads the check function's
annotations at definition time to recognise the context and the resource.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import quote

import dagster as dg

from reengage import settings
from reengage.defs.ingest.contracts import missing_file_rule
from reengage.defs.ingest.reader import find_export
from reengage.defs.quality.findings import QualityGateError, SuiteOutcome
from reengage.defs.quality.masking import scrub
from reengage.defs.quality.validation import validate_table
from reengage.defs.warehouse.assets import model_key
from reengage.warehouse import WarehouseResource


@dataclass(frozen=True)
class SuiteCheckSpec:
    """Which suite guards which table, and the asset that writes it."""

    asset_key: dg.AssetKey
    table: str
    suite_name: str
    # For a raw table: its source. A day without that source's file, where its missing_file rule
    # allows one (no activity, no change), has nothing to validate; the volume breaker judges it.
    source: str | None = None

    @property
    def check_name(self) -> str:
        return f"{self.suite_name}_expectations"


def build_suite_check(spec: SuiteCheckSpec) -> dg.AssetChecksDefinition:
    """A blocking check that validates the run's partition(s) of `spec.table` with its suite."""
    suite_file = settings.EXPECTATIONS_DIR / f"{spec.suite_name}.json"

    @dg.asset_check(
        asset=spec.asset_key,
        name=spec.check_name,
        blocking=True,
        description=f"Great Expectations suite expectations/{suite_file.name} on the run's partition of "
        f"{spec.table}; a failed critical expectation stops everything downstream.",
        metadata={"suite_file": dg.MetadataValue.path(str(suite_file)), "table": spec.table},
    )
    def _check(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
        all_days = partition_dates(context)
        without_file = _empty_without_file(spec, all_days, warehouse)
        days = [day for day in all_days if day not in without_file]
        if not days:
            note = (
                f"{spec.table}: no file for {', '.join(map(str, without_file))}, which its missing_file rule "
                "allows: the day was loaded as empty and there is nothing to validate"
            )
            context.log.info(note)
            return dg.AssetCheckResult(
                passed=True, description=note, metadata={"table": spec.table, "suite": spec.suite_name}
            )
        try:
            # Rendering Data Docs costs as much as validating: a backfill of many days renders a
            # page for its last day and for each earlier day that failed, not for every day.
            outcomes = [
                validate_table(
                    warehouse.resolved_path(),
                    spec.table,
                    spec.suite_name,
                    day,
                    data_docs_dir=settings.data_docs_dir(),
                    data_docs_when_passed=day == days[-1],
                )
                for day in days
            ]
        except QualityGateError as exc:
            # Fail closed: a gate that cannot run is a failed gate, never a skipped one.
            message = scrub(str(exc))
            context.log.error(message)
            return dg.AssetCheckResult(
                passed=False,
                severity=dg.AssetCheckSeverity.ERROR,
                description=message,
                metadata={"error": message, "table": spec.table, "suite": spec.suite_name},
            )
        result = check_result(outcomes)
        log = context.log.warning if not result.passed else context.log.info
        for outcome in outcomes:
            log(outcome.summary)
        return result

    return _check


def _empty_without_file(
    spec: SuiteCheckSpec, days: Sequence[date | None], warehouse: WarehouseResource
) -> list[date]:
    """The days among `days` with neither a file of the spec's source nor a row, where the source's
    missing_file rule says a day without a file is no error (rows loaded earlier are still validated)."""
    if spec.source is None or missing_file_rule(spec.source) == "required":
        return []
    landing = settings.landing_dir()
    without_file = [day for day in days if day is not None and find_export(landing, spec.source, day) is None]
    if not without_file:
        return []
    with warehouse.connect(read_only=True) as con:
        return [
            day
            for day in without_file
            if con.execute(f"select count(*) from {spec.table} where _partition_date = ?", [day]).fetchone()[
                0
            ]
            == 0
        ]


def partition_dates(context: dg.AssetCheckExecutionContext) -> Sequence[date | None]:
    """The run's partition, every day of a ranged (backfill) run, or None for the latest loaded.

    The checks are deliberately unpartitioned (partitioned checks are a preview feature in
    Dagster 1.13), but the step still sees the run's partition key, so the check validates
    exactly the day that was just loaded. Outside a partitioned run (a check launched on its
    own from the UI) it validates the latest loaded partition.
    """
    if context.has_partition_key:
        return [date.fromisoformat(context.partition_key)]
    if context.has_partition_key_range:
        return [date.fromisoformat(key) for key in context.partition_keys]
    return [None]


def judge_run_dates(
    context: dg.AssetCheckExecutionContext, verdict: Callable[[list[date]], dg.AssetCheckResult]
) -> dg.AssetCheckResult:
    """`verdict` on the run's date(s), its first line logged; a check launched on its own outside a
    partitioned run has no day to judge and passes saying so."""
    days = [day for day in partition_dates(context) if day is not None]
    if not days:
        return dg.AssetCheckResult(passed=True, description="no run date to check")
    result = verdict(days)
    (context.log.info if result.passed else context.log.warning)((result.description or "").splitlines()[0])
    return result


def check_result(outcomes: Sequence[SuiteOutcome]) -> dg.AssetCheckResult:
    """Critical failures are ERROR (blocking), warnings alone are WARN, info never fails the check.

    Metadata names failing expectations and columns only; example values stay in the
    description, already scrubbed of addresses.
    """
    counts = {"critical": 0, "warning": 0, "info": 0}
    failing: list[str] = []
    for outcome in outcomes:
        for severity, n in outcome.failures_by_severity.items():
            counts[severity] += n
        day = f"{outcome.partition_date} · " if len(outcomes) > 1 and outcome.partition_date else ""
        failing += [
            f"- {day}{r.severity.value} · {r.expectation_type}" + (f" · {r.column}" if r.column else "")
            for r in outcome.failures
        ]
    passed = counts["critical"] == 0 and counts["warning"] == 0
    severity = dg.AssetCheckSeverity.ERROR if counts["critical"] else dg.AssetCheckSeverity.WARN
    # The page to open first: the first day that failed, else the last day validated.
    failed = [o for o in outcomes if o.failures]
    docs = [str(o.data_docs_path) for o in (failed[:1] or outcomes[-1:]) if o.data_docs_path]
    metadata: dict[str, dg.RawMetadataValue] = {
        "table": outcomes[0].table if outcomes else "",
        "suite": outcomes[0].suite_name if outcomes else "",
        "partition_dates": ", ".join(str(o.partition_date or "whole table") for o in outcomes),
        "rows_validated": sum(o.row_count or 0 for o in outcomes),
        "expectations_evaluated": sum(len(o.results) for o in outcomes),
        "failed_critical": counts["critical"],
        "failed_warning": counts["warning"],
        "failed_info": counts["info"],
        "failing_expectations": dg.MetadataValue.md("\n".join(failing) or "None."),
    }
    if docs:
        page = Path(docs[-1]).resolve()
        index = _site_index(page)
        # Links the UI opens: under the served site's URL (a browser follows no file:// link from an
        # http:// page); file:// links when none is set. The path as well, for copying to a shell.
        metadata["data_docs"] = dg.MetadataValue.url(_link(page, index))
        metadata["data_docs_path"] = dg.MetadataValue.path(str(page))
        if index is not None:
            metadata["data_docs_index"] = dg.MetadataValue.url(_link(index, index))
    return dg.AssetCheckResult(
        passed=passed,
        severity=severity,
        description=scrub("\n\n".join(o.summary for o in outcomes))[:4000],
        metadata=metadata,
    )


def _site_index(page: Path) -> Path | None:
    """The Data Docs site's index.html above a validation page (GE writes it at the site root)."""
    for folder in page.parents:
        if (folder / "index.html").exists():
            return folder / "index.html"
    return None


def _link(page: Path, index: Path | None) -> str:
    """`page` under the data_docs.url setting's base URL, or its file:// URL when that is empty."""
    base = settings.data_docs_url()
    if not base or index is None:
        return page.as_uri()
    return f"{base}/{quote(page.relative_to(index.parent).as_posix())}"


raw_customers_expectations = build_suite_check(
    SuiteCheckSpec(dg.AssetKey(["raw", "customers"]), "raw.customers", "raw_customers", source="customers")
)
raw_events_expectations = build_suite_check(
    SuiteCheckSpec(dg.AssetKey(["raw", "events"]), "raw.events", "raw_events", source="events")
)
raw_email_events_expectations = build_suite_check(
    SuiteCheckSpec(
        dg.AssetKey(["raw", "email_events"]), "raw.email_events", "raw_email_events", source="email_events"
    )
)
# The SMS suppressions read it: an unknown status or opt-out type could hide a STOP.
raw_sms_events_expectations = build_suite_check(
    SuiteCheckSpec(
        dg.AssetKey(["raw", "sms_events"]), "raw.sms_events", "raw_sms_events", source="sms_events"
    )
)
# The context marts show its names, prices and links in messages: a negative price or a link that is
# no web address must never reach one.
raw_products_expectations = build_suite_check(
    SuiteCheckSpec(dg.AssetKey(["raw", "products"]), "raw.products", "raw_products", source="products")
)
fct_user_features_expectations = build_suite_check(
    SuiteCheckSpec(model_key("fct_user_features"), "marts.fct_user_features", "fct_user_features")
)
# The pause after a response reads it: a response the policy cannot read would mail someone who just answered.
fct_user_responses_expectations = build_suite_check(
    SuiteCheckSpec(model_key("fct_user_responses"), "marts.fct_user_responses", "fct_user_responses")
)
# Gates delivery directly: a malformed list (duplicate send ids, missing send times) never reaches SendGrid.
intervention_list_expectations = build_suite_check(
    SuiteCheckSpec(dg.AssetKey(["intervention_list"]), "interventions.intervention_list", "intervention_list")
)
