"""The short summary a person reads after a run: rows per stage, decisions, deliveries."""

from __future__ import annotations

from datetime import date

import duckdb

from reengage import settings
from reengage.defs.ingest.contracts import CONTRACTS, SOURCES, is_absent, missing_file_rule
from reengage.defs.ingest.loader import unknown_values, unknown_values_phrases
from reengage.defs.measurement.display import summary_table
from reengage.defs.operations.landed_exports import scan_day
from reengage.defs.quality.quarantine import unknown_reference_phrase, unknown_references
from reengage.schema.declared import CAMPAIGN_SUMMARY
from reengage.tables import as_frame
from reengage.warehouse import connect
from reengage.wording import counted

STAGE_TABLES = [
    ("ingest", "raw.customers"),
    ("ingest", "raw.events"),
    ("ingest", "raw.email_events"),
    ("ingest", "raw.quarantine"),
    ("warehouse", "staging.stg_crm__customers"),
    ("warehouse", "intermediate.int_events_stitched"),
    ("warehouse", "marts.fct_sessions"),
    ("warehouse", "marts.fct_user_features"),
    ("warehouse", "marts.fct_email_suppressions"),
    ("scoring", "scoring.churn_scores"),
    ("interventions", "interventions.decisions"),
    ("interventions", "interventions.intervention_list"),
    ("delivery", "delivery.campaign_sends"),
    ("measurement", "measurement.campaign_results"),
]


def run_summary(day: date) -> str:
    with connect(read_only=True) as con:
        sections = [
            _exports(con, day),
            _rows_per_stage(con),
            # unverified: the newest CRM row was refused at ingest, so the customer is not mailed
            _table(
                con,
                "Customers by consent status",
                "select consent_status, count(*) as customers from marts.fct_user_features "
                "group by all order by all",
                [],
            ),
            _table(
                con,
                "Interventions by campaign and reason",
                "select campaign_id, reason, count(*) as users from interventions.decisions "
                "where run_date = ? group by all order by campaign_id, users desc",
                [day],
            ),
            _table(
                con,
                "Intervention list by campaign and arm",
                "select campaign_id, variant, arm, count(*) as users from interventions.intervention_list "
                "where run_date = ? group by all order by all",
                [day],
            ),
            _table(
                con,
                "Deliveries by state",
                "select campaign_id, state, count(*) as messages from delivery.campaign_sends "
                "where run_date = ? group by all order by all",
                [day],
            ),
            _campaign_results(con, day),
        ]
    return "\n\n".join(s for s in sections if s)


def _exports(con: duckdb.DuckDBPyConnection, day: date) -> str:
    """The day's export per source, what a missing one meant (its missing_file rule), and what ingest
    told about the loaded one: rows refused, values set to null, values outside a vocabulary (an
    event name the catalog does not know), which the run's log and metadata tell in full."""
    exports = scan_day(settings.landing_dir(), day)
    lines = [f"Exports for {day}"]
    for source in SOURCES:
        found = exports.files.get(source)
        # An absent source (sms_events for a team without SMS) never had an export: nothing was late.
        rule = "absent: never exported" if is_absent(source) else missing_file_rule(source).replace("_", " ")
        shown = f"{found.name} ({counted(found.size, 'byte')})" if found else f"no file ({rule})"
        lines.append(f"  {source:<14}{shown}")
        if found:
            lines += [f"  {'':<14}{note}" for note in _ingest_notes(con, source, day)]
    return "\n".join(lines)


def _ingest_notes(con: duckdb.DuckDBPyConnection, source: str, day: date) -> list[str]:
    try:
        refused, nulled = con.execute(
            "select count(*) filter (not row_kept), count(*) filter (row_kept) from raw.quarantine "
            "where source = ? and _partition_date = ?",
            [source, day],
        ).fetchone()
        unknown = unknown_values(con, CONTRACTS[source], day)
        # Rows naming what no export loaded by the day holds (an event of a customer the CRM has not
        # exported): kept and counted, never matched by a guess, so said here rather than found late.
        orphans = [
            unknown_reference_phrase(column, target, rows, values, f"export loaded up to {day}")
            for of, column, target, rows, values in unknown_references(con, day)
            if of == source and rows
        ]
    except duckdb.CatalogException:  # nothing was loaded yet
        return []
    kept_aside = [f"{counted(refused, 'row')} refused"] * bool(refused) + [
        f"{counted(nulled, 'value')} set to null"
    ] * bool(nulled)
    notes = [", ".join(kept_aside) + " (raw.quarantine)"] if kept_aside else []
    return notes + unknown_values_phrases(source, unknown) + orphans


def _rows_per_stage(con: duckdb.DuckDBPyConnection) -> str:
    lines = ["Rows per stage", f"  {'stage':<14}{'table':<40}{'rows':>12}"]
    for stage, table in STAGE_TABLES:
        count = _count(con, table)
        lines.append(f"  {stage:<14}{table:<40}{'-' if count is None else format(count, ','):>12}")
    return "\n".join(lines)


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int | None:
    try:
        return con.execute(f"select count(*) from {table}").fetchone()[0]
    except duckdb.CatalogException:
        return None


def _campaign_results(con: duckdb.DuckDBPyConnection, day: date) -> str:
    """The report's own table of the day's campaign results, from the same rows under the same names."""
    title = f"Campaign results as of {day} (users, each counted once from their first assignment)"
    try:
        frame = as_frame(
            con.execute(
                f"select * from {CAMPAIGN_SUMMARY.name} where run_date = ? "
                "order by campaign_id, variant, arm",
                [day],
            )
        )
    except duckdb.CatalogException:
        return f"{title}\n  (table not built)"
    if frame.empty:
        return f"{title}\n  (none)"
    return title + "\n" + summary_table(frame).to_markdown(index=False)


def _table(con: duckdb.DuckDBPyConnection, title: str, sql: str, params: list) -> str:
    try:
        frame = as_frame(con.execute(sql, params))
    except duckdb.CatalogException:
        return f"{title}\n  (table not built)"
    if frame.empty:
        return f"{title}\n  (none)"
    body = frame.to_string(index=False)
    return title + "\n" + "\n".join("  " + line for line in body.splitlines())
