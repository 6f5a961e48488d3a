"""Versioned migrations: how a warehouse built by any earlier version reaches the declared schema.

An ordered list, each a number, a one-line description and SQL (a file in `sql/`) or a
function. `migrate` applies the ones a warehouse has not had, each in its own transaction
together with its row in `operations.schema_migrations`, so a failing migration leaves the
warehouse exactly at the version before it and says which one failed. The warehouse connection
helper (`reengage.warehouse.connect`) migrates on every writable connection; writers that
may be handed a bare connection call `migrate` too. Both cost one catalog look-up when nothing
is pending.

A migration is never edited once released: a change is a new one at the end of the list.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from reengage.schema.declared import CAMPAIGN_SENDS, SCHEMA_MIGRATIONS, Table
from reengage.tables import column_types, relation_exists, transaction

SQL_DIR = Path(__file__).parent / "sql"


@dataclass(frozen=True)
class Migration:
    number: int
    description: str
    change: str | Callable[[duckdb.DuckDBPyConnection], None]  # an SQL file name in sql/, or a function

    def apply(self, con: duckdb.DuckDBPyConnection) -> None:
        if callable(self.change):
            self.change(con)
        else:
            con.execute((SQL_DIR / self.change).read_text())


class MigrationFailed(RuntimeError):
    """A migration raised; its transaction was rolled back, so the warehouse is at the version before it."""


class WarehouseTooNew(RuntimeError):
    """The warehouse has migrations this code does not know: it was upgraded by a later version."""


class MissingTable(RuntimeError):
    """A declared table, or one of its declared columns, is not in the warehouse a reader was given."""


def _outcomes_per_user(con: duckdb.DuckDBPyConnection) -> None:
    # The per-assignment layout had no `assignments` column. The table holds only the latest
    # run's outcomes and every run recomputes them all, so dropping it loses nothing; migration
    # 1's SQL (every statement `if not exists`) then creates it in the per-user layout.
    if "assignments" not in column_types(con, "measurement.assignment_outcomes"):
        con.execute("drop table measurement.assignment_outcomes")
        con.execute((SQL_DIR / "0001_initial_schema.sql").read_text())


# Migration 4's tables. Before it measurement recreated each of them from a DataFrame every run
# (`create or replace table ... as select *`), so a warehouse holds them with the types pandas
# inferred: run_date a timestamp, a count with a missing value a double, a date column that has no
# date yet (every value missing) a double or, in a table never given a row, an integer.
PANDAS_TYPED_TABLES = (
    "measurement.campaign_summary",
    "measurement.campaign_comparisons",
    "measurement.campaign_srm",
    "measurement.guardrail_metrics",
    "measurement.campaign_daily",
)
FLOATS = ("FLOAT", "DOUBLE")
NUMBERS = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", *FLOATS)


def _experiment_tables_declared(con: duckdb.DuckDBPyConnection) -> None:
    # Each existing table's rows move aside, the SQL creates the declared table, and the rows come
    # back converted. Copies, not renames: the same statements then run on PostgreSQL.
    moved = []
    for table in PANDAS_TYPED_TABLES:
        if column_types(con, table):
            aside = f"{table}_before_migration_4"
            con.execute(f"create table {aside} as select * from {table}")
            con.execute(f"drop table {table}")
            moved.append((table, aside))
    con.execute((SQL_DIR / "0004_measurement_tables.sql").read_text())
    for table, aside in moved:
        old, new = column_types(con, aside), column_types(con, table)
        unknown = [name for name in old if name not in new]
        if unknown:
            raise ValueError(
                f"{table} has column(s) {', '.join(unknown)}, which no version of measurement wrote: "
                "move them to a table of your own, drop them, and open the warehouse again"
            )
        names = [name for name in new if name in old]
        values = ", ".join(_converted(table, name, old[name], new[name]) for name in names)
        quoted = ", ".join(f'"{name}"' for name in names)
        con.execute(f"insert into {table} ({quoted}) select {values} from {aside}")
        con.execute(f"drop table {aside}")


def _decision_probabilities(con: duckdb.DuckDBPyConnection) -> None:
    _recreated_with_new_columns(
        con,
        "interventions.decisions",
        5,
        _sql("0005_decision_probabilities_and_uplift_scores.sql"),
        first_new_column="treatment_probability",
    )


def _quarantine_row_kept(con: duckdb.DuckDBPyConnection) -> None:
    # Every row stored before was a refused row.
    _recreated_with_new_columns(
        con,
        "raw.quarantine",
        7,
        _sql("0007_quarantine_row_kept.sql"),
        first_new_column="row_kept",
        filled={"row_kept": "false"},
    )


def _channels(con: duckdb.DuckDBPyConnection) -> None:
    # Every message decided, listed or sent before channels existed was an email; its send id
    # (reengage/send_ids.py) stays what it was, so the ledger still finds it.
    email = "'email'"
    create = _sql("0008_channels.sql")
    _recreated_with_new_columns(
        con, "interventions.decisions", 8, create, first_new_column="channel", filled={"channel": email}
    )
    _recreated_with_new_columns(
        con,
        "interventions.intervention_list",
        8,
        create,
        first_new_column="channel",
        filled={"channel": email, "contact": '"email"'},
        dropped=("email",),
    )
    # Created by the first delivery, not by a migration: upgraded only where delivery ran.
    if column_types(con, CAMPAIGN_SENDS.name):
        _recreated_with_new_columns(
            con,
            CAMPAIGN_SENDS.name,
            8,
            CAMPAIGN_SENDS.ddl(),
            first_new_column="channel",
            filled={"channel": email},
        )


def _measurement_channels(con: duckdb.DuckDBPyConnection) -> None:
    create = _sql("0009_measurement_channels.sql")
    for table in ("measurement.campaign_results", "measurement.assignment_outcomes"):
        _recreated_with_new_columns(
            con, table, 9, create, first_new_column="channel", filled={"channel": "'email'"}
        )


def _crm_sms_contact(con: duckdb.DuckDBPyConnection) -> None:
    # Snapshots loaded before carried no phone and no SMS consent: null, which never reads as consent.
    _recreated_with_new_columns(
        con, "raw.customers", 10, _sql("0010_crm_sms_contact.sql"), first_new_column="phone"
    )


def _decision_control_probability(con: duckdb.DuckDBPyConnection) -> None:
    _recreated_with_new_columns(
        con,
        "interventions.decisions",
        15,
        _sql("0015_decision_control_probability.sql"),
        first_new_column="control_probability",
    )


def _sms_events_campaign(con: duckdb.DuckDBPyConnection) -> None:
    _recreated_with_new_columns(
        con, "raw.sms_events", 16, _sql("0016_sms_events_campaign.sql"), first_new_column="campaign_id"
    )


def _sql(file_name: str) -> str:
    return (SQL_DIR / file_name).read_text()


def _recreated_with_new_columns(
    con: duckdb.DuckDBPyConnection,
    table: str,
    number: int,
    create: str,
    first_new_column: str,
    filled: dict[str, str] | None = None,
    dropped: tuple[str, ...] = (),
) -> None:
    """`table` as the SQL `create` makes it, its rows kept: new columns null, or the SQL of `filled`.

    `filled` values are SQL over the old row's columns; `dropped` names old columns the new table
    no longer has (their values live on in a filled column). By a copy rather than `alter table ...
    add column`: DuckDB passes an added column's type to PostgreSQL as it spells it (PostgreSQL has
    no type `double`), and a not-null column cannot be added to rows in place.
    """
    aside = f"{table}_before_migration_{number}"
    old = column_types(con, table)
    if old and first_new_column not in old:
        con.execute(f"create table {aside} as select * from {table}")
        con.execute(f"drop table {table}")
    con.execute(create)
    if column_types(con, aside):
        filled = filled or {}
        kept = [name for name in old if name not in dropped]
        names = ", ".join(f'"{name}"' for name in [*kept, *filled])
        values = ", ".join([*(f'"{name}"' for name in kept), *filled.values()])
        con.execute(f"insert into {table} ({names}) select {values} from {aside}")
        con.execute(f"drop table {aside}")


def _converted(table: str, column: str, source: str, target: str) -> str:
    """SQL for `column`, of the pandas-inferred `source` type, as the declared `target` type.

    A value that would not convert exactly (a time of day in a date, a fraction in a count, a
    number in a date) fails the migration, naming it, rather than being changed on the way.
    """
    c = f'"{column}"'
    if source == target:
        return c
    if target == "DATE" and source.startswith("TIMESTAMP"):
        exact, value = f"{c} = date_trunc('day', {c})", f"cast({c} as date)"
    elif target == "DATE" and source in NUMBERS:
        exact, value = "false", "null::date"  # only a missing value converts
    elif target == "BIGINT" and source in FLOATS:
        exact, value = f"{c} = trunc({c})", f"cast({c} as bigint)"
    else:
        return f"cast({c} as {target.lower()})"  # text, a wider number: exact, or the cast fails
    missing = f"{c} is null" + (f" or isnan({c})" if source in FLOATS else "")
    return (
        f"case when {missing} then null when {exact} then {value} else error('{table}.{column} holds ' "
        f"|| cast({c} as varchar) || ', which is not a {target.lower()}') end"
    )


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "every table the Python stages wrote before versioning, created if missing",
        "0001_initial_schema.sql",
    ),
    Migration(
        2,
        "privacy.erasure_audit gains file_rewritten_at (audit rows made before it: not rewritten yet)",
        "0002_erasure_audit_file_rewritten_at.sql",
    ),
    Migration(
        3,
        "measurement.assignment_outcomes in the per-user layout (one row per user and campaign)",
        _outcomes_per_user,
    ),
    Migration(
        4,
        "measurement's experiment tables (campaign_summary, campaign_comparisons, campaign_srm, "
        "guardrail_metrics, campaign_daily) with declared types, their rows kept",
        _experiment_tables_declared,
    ),
    Migration(
        5,
        "interventions.decisions records each decision's probabilities and targeting; "
        "scoring.uplift_scores holds the uplift models' predictions",
        _decision_probabilities,
    ),
    Migration(
        6,
        "measurement.targeting_estimates: each campaign's candidate targetings judged on its decisions",
        "0006_targeting_estimates.sql",
    ),
    Migration(
        7,
        "raw.quarantine tells refused rows (row_kept false) from values set to null in loaded rows (true)",
        _quarantine_row_kept,
    ),
    Migration(
        8,
        "decisions, the intervention list and delivery.campaign_sends name each message's channel; the "
        "list's contact key replaces its email column (rows stored before are emails)",
        _channels,
    ),
    Migration(
        9,
        "measurement.campaign_results and assignment_outcomes name the channel "
        "(rows measured before are emails)",
        _measurement_channels,
    ),
    Migration(
        10,
        "raw.customers holds the SMS contact and consent (phone, sms_consent, sms_consent_updated_at; "
        "null in snapshots loaded before)",
        _crm_sms_contact,
    ),
    Migration(
        11,
        "raw.sms_events holds the Twilio status callbacks and inbound replies (the SMS channel's provider "
        "events)",
        "0011_sms_events.sql",
    ),
    Migration(
        12,
        "measurement.campaign_channels: each campaign's results per channel, against the held-out users "
        "it would have reached on that channel",
        "0012_campaign_channels.sql",
    ),
    Migration(
        13,
        "raw.products holds the product catalog (names, prices, links and stock the context marts show)",
        "0013_products.sql",
    ),
    Migration(
        14,
        "measurement.campaign_settings: the level, sequential test scale and users per arm each "
        "campaign's measurement used",
        "0014_campaign_settings.sql",
    ),
    Migration(
        15,
        "interventions.decisions records control_probability, each decision's chance of being held "
        "back from the campaign for good (null on rows decided before)",
        _decision_control_probability,
    ),
    Migration(
        16,
        "raw.sms_events keeps the campaign_id, variant and run_date a text's status callback carries "
        "(null on callbacks loaded before)",
        _sms_events_campaign,
    ),
)


def applied_versions(con: duckdb.DuckDBPyConnection) -> set[int]:
    """The migrations this warehouse has had (none when it was never migrated)."""
    if not relation_exists(con, SCHEMA_MIGRATIONS.name):
        return set()
    return {version for (version,) in con.execute(f"select version from {SCHEMA_MIGRATIONS.name}").fetchall()}


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    """The highest migration applied: 0 for a warehouse never migrated."""
    return max(applied_versions(con), default=0)


def is_current(con: duckdb.DuckDBPyConnection, migrations: Sequence[Migration] = MIGRATIONS) -> bool:
    """Whether every migration has been applied (reads only: safe on a read-only connection)."""
    return {m.number for m in migrations} <= applied_versions(con)


def migrate(con: duckdb.DuckDBPyConnection, migrations: Sequence[Migration] = MIGRATIONS) -> list[int]:
    """Apply the pending migrations in order, each all or nothing; returns the numbers applied.

    Call it outside a transaction: each migration commits on its own, so a later failure never
    undoes an earlier success, and the failing one is named in the error.
    """
    applied = applied_versions(con)
    known = {m.number for m in migrations}
    unknown = sorted(applied - known)
    if unknown:
        raise WarehouseTooNew(
            f"the warehouse has schema migration(s) {', '.join(map(str, unknown))}, which this version "
            "does not know: it was upgraded by a later version; run that version (or a later one)"
        )
    pending = [m for m in sorted(migrations, key=lambda m: m.number) if m.number not in applied]
    if not pending:
        return []
    try:
        with transaction(con):
            con.execute(f"create schema if not exists {SCHEMA_MIGRATIONS.schema}")
            con.execute(SCHEMA_MIGRATIONS.ddl())
    except duckdb.Error:
        if not relation_exists(con, SCHEMA_MIGRATIONS.name):
            raise
        # Another process created it meanwhile (PostgreSQL runs steps side by side).
    done: list[int] = []
    for migration in pending:
        try:
            with transaction(con):
                migration.apply(con)
                con.execute(
                    SCHEMA_MIGRATIONS.insert_values(),
                    [migration.number, migration.description, datetime.now(UTC)],
                )
        except Exception as exc:
            if migration.number in applied_versions(con):
                continue  # another process (PostgreSQL runs steps side by side) applied it meanwhile
            raise MigrationFailed(
                f"warehouse schema migration {migration.number} ({migration.description}) failed and was "
                f"rolled back; the warehouse stays at version {max(applied | set(done), default=0)}: {exc}"
            ) from exc
        done.append(migration.number)
    return done


def require(con: duckdb.DuckDBPyConnection, table: Table, columns: Sequence[str] | None = None) -> None:
    """Raise MissingTable naming the declared table, or the ones of `columns` (default: all), `con` lacks.

    For readers: a migrated warehouse has every declared table (empty until written), so a
    missing one means a warehouse no writer has opened since it was made, never "no data yet".
    """
    found = column_types(con, table.name)
    missing = [name for name in (table.names if columns is None else columns) if name not in found]
    if missing:
        what = f"table {table.name}" if not found else f"column(s) {', '.join(missing)} of {table.name}"
        raise MissingTable(
            f"the warehouse has no {what} (schema version {schema_version(con)}, this code expects "
            f"{MIGRATIONS[-1].number}): open it for writing once (reengage.warehouse.connect) so "
            "its migrations run"
        )


def stored_or_empty(con: duckdb.DuckDBPyConnection, table: Table) -> str:
    """What to read `table` from: its name, or a query of its columns with no rows while it does not exist.

    Only for a table its writer creates on its first write (created_by_migrations=False), whose
    absence means that writer never ran: delivery.campaign_sends before the first delivery.
    """
    if table.created_by_migrations:
        raise ValueError(f"{table.name} is created by the migrations: read it after require()")
    return table.name if relation_exists(con, table.name) else f"({table.empty_select()})"
