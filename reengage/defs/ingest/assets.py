"""Raw tables from the landing folder, one daily partition per export file.

The asset keys are the dbt source keys (`raw/<table>`), so lineage from the
exports to the marts joins by itself.
"""

from datetime import date

import dagster as dg

from reengage import settings
from reengage.defs.ingest.contracts import CONTRACTS, SOURCES, missing_file_rule
from reengage.defs.ingest.loader import LoadReport, describe_quarantine, load_days
from reengage.defs.ingest.names import shown_values
from reengage.defs.ingest.reader import IngestError
from reengage.defs.operations.retries import LANDING_READ_RETRY
from reengage.defs.warehouse import build_state
from reengage.defs.warehouse.assets import warehouse_models
from reengage.partitions import daily_partitions
from reengage.warehouse import WarehouseResource


def build_ingest_asset(source: str) -> dg.AssetsDefinition:
    @dg.asset(
        name=source,
        key_prefix="raw",
        group_name="ingest",
        kinds={"duckdb", "python"},
        description=CONTRACTS[source].description,
        partitions_def=daily_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        # Erasure requests are carried out first, so an erased person's rows never load again.
        deps=[dg.AssetKey(["privacy", "erasure_requests"])],
        retry_policy=LANDING_READ_RETRY,
        owners=["team:data-engineering"],
        tags={"domain": "ingest"},
    )
    def _ingest(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
        days = [date.fromisoformat(key) for key in context.partition_keys]
        with warehouse.connect() as con:
            _refuse_an_earlier_rebuild(context, con, days)
            try:
                reports = load_days(
                    con, settings.landing_dir(), source, days, loaded=lambda r: _log_report(context, con, r)
                )
            except IngestError as err:  # a bad file stays bad: no retry
                raise dg.Failure(description=str(err), allow_retries=False) from err
        missing = [r.day.isoformat() for r in reports if r.missing]
        rule = missing_file_rule(source)
        if missing and rule == "required":
            # The volume breaker says the same when it runs on its own; here the run stops at once.
            raise dg.Failure(
                description=f"No {source} export for {', '.join(missing)} in {settings.landing_dir()} "
                f"(expected {source}/{source}_<day>.csv|jsonl|parquet): the export is late or lost, so "
                "nothing downstream (delivery included) runs on stale data (the source's missing_file rule "
                "is required)",
                metadata={"missing_days": missing},
                allow_retries=False,  # a late export is the sensor's and the schedule's business
            )
        return dg.MaterializeResult(metadata={**_metadata(reports), **_without_file(missing, rule)})

    return _ingest


def _without_file(missing: list[str], rule: str) -> dict[str, str]:
    """Which days had no file and what that meant: loaded as empty, nothing stored deleted or guessed."""
    meaning = {"no_activity": "no activity", "no_change": "no change"}.get(rule, rule)
    return {
        "missing_file_rule": rule,
        "days_without_file": ", ".join(missing) or "None.",
        "without_file_meaning": f"{meaning}: the day was loaded as empty" if missing else "None.",
    }


def _refuse_an_earlier_rebuild(context: dg.AssetExecutionContext, con, days: list[date]) -> None:
    """A run that goes on to build the warehouse stops here, before loading a day dbt would refuse.

    Loading exports alone (a history load) is always allowed; see build_state for the rule.
    """
    if not warehouse_models.keys & context.job_def.asset_layer.executable_asset_keys:
        return
    ops_config = (context.run.run_config or {}).get("ops", {})
    full_refresh = bool(ops_config.get(warehouse_models.op.name, {}).get("config", {}).get("full_refresh"))
    try:
        build_state.check_run_dates(con, days[0], days[-1], full_refresh)
    except build_state.EarlierRunDateRefused as refused:
        raise dg.Failure(description=str(refused), allow_retries=False) from refused


def _log_report(context: dg.AssetExecutionContext, con, report: LoadReport) -> None:
    if report.missing:
        context.log.warning(report.summary)
        for line in report.warnings:
            context.log.warning(line)
        return
    context.log.info(report.summary)
    for line in report.warnings + report.unknown_values_lines():
        context.log.warning(line)
    for line in describe_quarantine(con, report.source, report.day):
        context.log.warning(line)


def _metadata(reports: list[LoadReport]) -> dict[str, dg.MetadataValue | int | str]:
    reasons = _summed(r.quarantine_reasons for r in reports)
    nulled = _summed(r.values_set_to_null for r in reports)
    table = "\n".join(f"| {reason} | {count} |" for reason, count in sorted(reasons.items()))
    nulled_table = "\n".join(f"| {reason} | {count} |" for reason, count in sorted(nulled.items()))
    return {
        "dagster/row_count": sum(r.rows_loaded for r in reports),
        "rows_read": sum(r.rows_read for r in reports),
        "rows_quarantined": sum(r.rows_quarantined for r in reports),
        # Bad values of soft columns (contracts.py): the row was loaded with the value null.
        "values_set_to_null": sum(nulled.values()),
        "values_set_to_null_by_reason": dg.MetadataValue.md(
            "| column: reason | values |\n|---|---|\n" + nulled_table if nulled_table else "None."
        ),
        "rows_dropped_erased_people": sum(r.rows_forgotten for r in reports),
        "days_loaded": sum(not r.missing for r in reports),
        "days_missing": sum(r.missing for r in reports),
        "later_files_not_loaded": len({f for r in reports for f in r.later_files}),
        "quarantine_by_reason": dg.MetadataValue.md(
            "| column: reason | rows |\n|---|---|\n" + table if table else "No rows quarantined."
        ),
        "warnings": dg.MetadataValue.md("\n".join(f"- {w}" for w in _unique_warnings(reports)) or "None."),
        **_unknown_values_metadata(reports),
    }


def _unknown_values_metadata(reports: list[LoadReport]) -> dict[str, dg.MetadataValue | int]:
    """Per column with a vocabulary (event_name: the event catalog), the values outside it and their
    rows. A value is shown only when it looks like an identifier: an export's text may hold anything."""
    metadata: dict[str, dg.MetadataValue | int] = {}
    for column in sorted({c for r in reports for c in r.unknown_values}):
        counts = _summed(r.unknown_values.get(column, {}) for r in reports)
        shown, hidden_values, hidden_rows = shown_values(counts)
        lines = [f"| {value} | {n} |" for value, n in shown.items()]
        if hidden_values:
            lines.append(f"| ({hidden_values} values not shown) | {hidden_rows} |")
        metadata[f"unknown_{column}_rows"] = sum(counts.values())
        metadata[f"unknown_{column}_values"] = dg.MetadataValue.md(
            f"| {column} | rows |\n|---|---|\n" + "\n".join(lines) if lines else "None."
        )
    return metadata


def _summed(counts) -> dict[str, int]:
    total: dict[str, int] = {}
    for count in counts:
        for key, n in count.items():
            total[key] = total.get(key, 0) + n
    return total


def _unique_warnings(reports: list[LoadReport]) -> list[str]:
    return sorted({w for r in reports for w in r.warnings})[:20]


# One asset per source of the contracts' registry: a new source needs no line here.
raw_sources = [build_ingest_asset(source) for source in SOURCES]


def ingest_asset(source: str) -> dg.AssetsDefinition:
    """The ingest asset of one source (`raw/<source>`)."""
    return next(asset for asset in raw_sources if asset.key == dg.AssetKey(["raw", source]))


# Each ingest asset replaces its own day's refused rows in raw.quarantine together with its good rows.
# dbt reads them back (stg_crm__refused_customers, stg_sendgrid__refused_email_events) through the
# source raw.quarantine, so the table is declared here, with the assets that write it, for lineage.
raw_quarantine = dg.AssetSpec(
    key=dg.AssetKey(["raw", "quarantine"]),
    deps=[dg.AssetKey(["raw", source]) for source in SOURCES],
    description=(
        "Rows refused at ingest, and values set to null in the rows it loaded, from every export: the "
        "problem found and the record as exported."
    ),
    group_name="ingest",
    kinds={"duckdb"},
    partitions_def=daily_partitions,
    owners=["team:data-engineering"],
    tags={"domain": "ingest"},
)
