"""The warehouse schema: declared once, reached from any earlier version by versioned migrations."""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from reengage.defs.warehouse import build_state
from reengage.learning.scoring import write_scores
from reengage.privacy import audit
from reengage.schema.declared import (
    CAMPAIGN_COMPARISONS,
    CAMPAIGN_DAILY,
    CAMPAIGN_SENDS,
    CAMPAIGN_SRM,
    CAMPAIGN_SUMMARY,
    DECISIONS,
    GUARDRAIL_METRICS,
    TABLES,
    Table,
)
from reengage.schema.migrations import (
    MIGRATIONS,
    Migration,
    MigrationFailed,
    MissingTable,
    WarehouseTooNew,
    migrate,
    schema_version,
    stored_or_empty,
)
from reengage.warehouse import connect

DAY1, DAY2 = date(2026, 3, 9), date(2026, 3, 10)
AT = datetime(2026, 3, 9, 6, 0, tzinfo=UTC)
LATEST = MIGRATIONS[-1].number

# The Python stages' tables exactly as the version before versioned migrations created them (each
# stage its own `create table if not exists`), with no operations.schema_migrations. Kept literal:
# this is what deployed warehouses hold, whatever the declarations say today.
PREVIOUS_VERSION_DDL = """
create schema operations; create schema raw; create schema scoring; create schema interventions;
create schema delivery; create schema measurement; create schema privacy;
create table operations.warehouse_builds (build_id varchar not null, run_date date not null,
    start_date date not null, full_refresh boolean not null, started_at timestamptz not null,
    completed_at timestamptz);
create table operations.warehouse_meanings (setting varchar not null primary key, digest varchar not null,
    build_id varchar not null, recorded_at timestamptz not null);
create table operations.step_inputs (step varchar not null, run_date date not null,
    fingerprint varchar not null, output varchar not null, run_id varchar not null,
    recorded_at timestamptz not null);
create table raw.customers ("customer_id" varchar, "email" varchar, "first_name" varchar,
    "country" varchar, "timezone" varchar, "signup_at" timestamptz, "plan" varchar,
    "lifetime_value" double, "marketing_consent" boolean, "consent_updated_at" timestamptz,
    "updated_at" timestamptz, _source_file varchar, _source_row bigint, _partition_date date,
    _loaded_at timestamptz);
create table raw.events ("event_id" varchar, "user_id" varchar, "anonymous_id" varchar,
    "event_name" varchar, "event_ts" timestamptz, "page" varchar, "product_id" varchar,
    "category" varchar, "value" double, "device" varchar, "channel" varchar, _source_file varchar,
    _source_row bigint, _partition_date date, _loaded_at timestamptz);
create table raw.email_events ("email" varchar, "event" varchar, "timestamp" timestamptz,
    "sg_message_id" varchar, "sg_event_id" varchar, "send_id" varchar, "campaign_id" varchar,
    "variant" varchar, "run_date" date, "reason" varchar, _source_file varchar, _source_row bigint,
    _partition_date date, _loaded_at timestamptz);
create table raw.quarantine (source varchar, file varchar, row bigint, "column" varchar, reason varchar,
    raw_record varchar, _partition_date date, _loaded_at timestamptz);
create table scoring.churn_scores (customer_id varchar not null, run_date date not null,
    churn_probability double not null, model_version varchar not null);
create table scoring.preferred_send_hours (customer_id varchar not null, run_date date not null,
    preferred_local_hour integer not null, source varchar not null, activity_slots integer not null);
create table scoring.behaviour_clusters (customer_id varchar not null, run_date date not null,
    cluster_id integer not null, cluster_label varchar not null);
create table interventions.decisions (run_date date not null, customer_id varchar not null,
    campaign_id varchar not null, outcome varchar not null, reason varchar not null,
    priority integer not null, churn_probability double);
create table interventions.intervention_list (send_id varchar not null, run_date date not null,
    customer_id varchar not null, email varchar not null, first_name varchar, timezone varchar not null,
    campaign_id varchar not null, variant varchar not null, arm varchar not null, template_id varchar,
    subject varchar, body varchar, template_data varchar not null, scheduled_send_at_utc timestamptz not null,
    scheduled_send_at_local varchar not null, priority integer not null, churn_probability double);
create table delivery.campaign_sends (send_id varchar, run_date date, customer_id varchar,
    campaign_id varchar, variant varchar, state varchar, batch_id varchar, attempts integer,
    last_error varchar, planned_at timestamptz, updated_at timestamptz, accepted_at timestamptz,
    send_at bigint, in_doubt boolean);
create table measurement.campaign_results (run_date date, campaign_id varchar, variant varchar,
    arm varchar, assigned bigint, sent bigint, delivered bigint, opened bigint, clicked bigint,
    unsubscribed bigint, converted bigint, click_rate double, conversion_rate double,
    computed_at timestamptz);
create table measurement.campaign_guardrails (campaign_id varchar not null, run_date date not null,
    paused boolean not null, reason varchar);
create table measurement.assignment_outcomes (send_id varchar, run_date date, customer_id varchar,
    campaign_id varchar, variant varchar, arm varchar, assignments integer, scheduled_at timestamp,
    window_end_at timestamp, matured boolean, sent boolean, delivered boolean, opened boolean,
    clicked boolean, bounced boolean, spam_reported boolean, unsubscribed boolean, converted boolean,
    hours_to_open double, hours_to_click double, hours_to_convert double, revenue double,
    pre_active_days integer, as_of date);
create table privacy.forget_list (key_hash varchar not null, key_kind varchar not null,
    request_id varchar not null, added_at timestamptz not null);
create table privacy.forget_list_pepper (fingerprint varchar not null, recorded_at timestamptz not null);
create table privacy.erasure_audit (request_id varchar not null, subject_hash varchar not null,
    subject_kind varchar not null, requested_by varchar not null, request_source varchar not null,
    requested_at timestamptz not null, completed_at timestamptz not null,
    identifiers_forgotten integer not null, rows_removed bigint not null,
    rows_removed_by_table varchar not null, file_rewritten_at timestamptz);
"""

# A row in a table of each stage, as that version wrote them (positionally, in its column order).
PREVIOUS_VERSION_ROWS = """
insert into operations.warehouse_builds values ('b1', '2026-03-09', '2026-03-09', false,
    '2026-03-09 05:00:00+00', '2026-03-09 05:10:00+00');
insert into raw.events values ('e1', 'u1', null, 'purchase', '2026-03-09 04:00:00+00', null, null, null,
    20.0, 'web', 'seo', 'events_2026-03-09.csv', 2, '2026-03-09', '2026-03-09 05:00:00+00');
insert into scoring.churn_scores values ('u1', '2026-03-09', 0.25, 'v1');
insert into interventions.intervention_list values ('s1', '2026-03-09', 'u1', 'u1@example.com', 'Ann',
    'UTC', 'winback', 'control', 'treatment', 't1', null, null, '{}', '2026-03-09 12:00:00+00',
    '2026-03-09 12:00', 10, 0.25);
insert into delivery.campaign_sends values ('s1', '2026-03-09', 'u1', 'winback', 'control', 'accepted',
    'b1', 1, null, '2026-03-09 06:00:00+00', '2026-03-09 06:01:00+00', '2026-03-09 06:01:00+00',
    1773057600, false);
insert into measurement.campaign_guardrails values ('winback', '2026-03-09', false, null);
insert into privacy.erasure_audit values ('r1', 'h1', 'customer_id', 'dpo', 'cli',
    '2026-03-09 05:00:00+00', '2026-03-09 05:01:00+00', 1, 3, '{"raw.events": 3}', null);
"""
ROW_TABLES = (
    "operations.warehouse_builds",
    "raw.events",
    "scoring.churn_scores",
    "interventions.intervention_list",
    "delivery.campaign_sends",
    "measurement.campaign_guardrails",
    "privacy.erasure_audit",
)


def previous_version_warehouse(path: Path) -> dict[str, list[tuple]]:
    """A warehouse file as the previous version left it; returns each table's rows."""
    with duckdb.connect(str(path)) as con:
        con.execute(PREVIOUS_VERSION_DDL)
        con.execute(PREVIOUS_VERSION_ROWS)
        return {table: rows(con, table) for table in ROW_TABLES}


# Columns a later migration renamed, read back under their old names (migration 8: the list's email
# is its contact now).
RENAMED = {"interventions.intervention_list": {"email": "contact"}}


def rows(con: duckdb.DuckDBPyConnection, table: str, as_before: bool = False) -> list[tuple]:
    """Every row; `as_before`: only the previous version's columns, in its order (after an upgrade)."""
    if not as_before:
        return con.execute(f"select * from {table} order by all").fetchall()
    with duckdb.connect() as old:
        old.execute(PREVIOUS_VERSION_DDL)
        names = [name for name, *_ in columns(old, table)]
    renamed = RENAMED.get(table, {})
    select = ", ".join(f'"{renamed.get(name, name)}"' for name in names)
    return con.execute(f"select {select} from {table} order by all").fetchall()


def columns(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str, str]]:
    """(name, type, nullable) of each column in order, as the catalog reports them."""
    schema, name = table.split(".")
    return con.execute(
        "select column_name, data_type, is_nullable from information_schema.columns "
        "where table_catalog = current_database() and table_schema = ? and table_name = ? "
        "order by ordinal_position",
        [schema, name],
    ).fetchall()


def test_a_warehouse_built_by_the_previous_version_upgrades_itself_on_open_and_keeps_every_row(
    tmp_path: Path,
) -> None:
    # Guards "nothing ever alters a table": each stage created its own table once, so a warehouse
    # from before a schema change kept the old shape forever. Opening it now migrates it, and a real
    # stage writes its next day next to the rows the previous version stored.
    path = tmp_path / "warehouse.duckdb"
    before = previous_version_warehouse(path)

    with connect(path) as con:  # where every stage opens the warehouse
        assert schema_version(con) == LATEST
        scores = pd.DataFrame({"customer_id": ["u1", "u2"], "churn_probability": [0.5, 0.1]})
        assert write_scores(con, scores.assign(model_version="v2"), DAY2) == 2
        build_state.record_start(con, "b2", DAY2, DAY2, full_refresh=False)

    with duckdb.connect(str(path), read_only=True) as con:
        applied = con.execute("select version, description from operations.schema_migrations order by 1")
        assert [version for version, _ in applied.fetchall()] == [m.number for m in MIGRATIONS]
        for table in ROW_TABLES:
            kept = rows(con, table, as_before=True)
            assert [row for row in before[table] if row not in kept] == [], f"{table} lost rows"
        assert rows(con, "scoring.churn_scores") == [
            ("u1", DAY1, 0.25, "v1"),
            ("u1", DAY2, 0.5, "v2"),
            ("u2", DAY2, 0.1, "v2"),
        ]
        assert build_state.built_as_of(con) == DAY2
        for table in TABLES:
            assert columns(con, table.name), f"{table.name} missing after the upgrade"


def test_messages_stored_before_channels_are_emails_with_their_send_ids_and_addresses_kept(
    tmp_path: Path,
) -> None:
    # Guards the channel upgrade (migration 8): every decision, listed message and mirrored send an
    # earlier version stored was an email, keeps its send id (reruns and caps find it) and its address
    # (now the list's contact), and a warehouse with no delivery yet gets no sends table from it.
    path = tmp_path / "warehouse.duckdb"
    previous_version_warehouse(path)
    with duckdb.connect(str(path)) as con:
        con.execute(
            "insert into interventions.decisions values "
            "('2026-03-09', 'u1', 'winback', 'chosen', 'chosen', 10, 0.25)"
        )
        con.execute(
            "insert into measurement.campaign_results values "
            "('2026-03-09', 'winback', 'control', 'treatment',"
            " 1, 1, 1, 0, 0, 0, 0, 0.0, 0.0, '2026-03-10 06:00:00+00')"
        )
    with connect(path) as con:
        assert con.execute(
            "select send_id, channel, contact from interventions.intervention_list"
        ).fetchall() == [("s1", "email", "u1@example.com")]
        assert "email" not in [name for name, *_ in columns(con, "interventions.intervention_list")]
        assert con.execute("select customer_id, channel from interventions.decisions").fetchall() == [
            ("u1", "email")
        ]
        assert con.execute("select send_id, channel, state from delivery.campaign_sends").fetchall() == [
            ("s1", "email", "accepted")
        ]
        assert con.execute(
            "select campaign_id, channel, assigned from measurement.campaign_results"
        ).fetchall() == [("winback", "email", 1)]
        assert columns(con, CAMPAIGN_SENDS.name) == columns(declared_warehouse(), CAMPAIGN_SENDS.name)
    fresh = tmp_path / "before_any_delivery.duckdb"
    with duckdb.connect(str(fresh)) as con:
        migrate(con, [m for m in MIGRATIONS if m.number < 8])
    with connect(fresh) as con:
        assert columns(con, CAMPAIGN_SENDS.name) == [], "delivery creates it, not a migration"


def declared_warehouse() -> duckdb.DuckDBPyConnection:
    """An in-memory warehouse with every declared table created from its declaration."""
    con = duckdb.connect()
    for table in TABLES:
        con.execute(f"create schema if not exists {table.schema}")
        con.execute(table.ddl())
    return con


def test_tables_of_layouts_older_than_the_previous_version_gain_their_new_columns(tmp_path: Path) -> None:
    # Guards the two ad-hoc upgrades this replaces: the erasure audit added file_rewritten_at only
    # when an erasure next ran, and measurement dropped an outcomes table of the per-assignment
    # layout only when it next wrote. Both are migrations now, run when the warehouse is opened.
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(
            "create schema privacy; create table privacy.erasure_audit (request_id varchar not null, "
            "subject_hash varchar not null, subject_kind varchar not null, requested_by varchar not null, "
            "request_source varchar not null, requested_at timestamptz not null, "
            "completed_at timestamptz not null, identifiers_forgotten integer not null, "
            "rows_removed bigint not null, rows_removed_by_table varchar not null)"
        )
        con.execute(
            "insert into privacy.erasure_audit values ('r1', 'h1', 'customer_id', 'dpo', 'cli', "
            "'2026-03-09 05:00:00+00', '2026-03-09 05:01:00+00', 1, 3, '{}')"
        )
        con.execute(
            "create schema measurement; create table measurement.assignment_outcomes (send_id varchar, "
            "run_date date, customer_id varchar, campaign_id varchar, variant varchar, arm varchar, "
            "scheduled_at timestamp, window_end_at timestamp, matured boolean, sent boolean, "
            "delivered boolean, opened boolean, clicked boolean, bounced boolean, spam_reported boolean, "
            "unsubscribed boolean, converted boolean, hours_to_open double, hours_to_click double, "
            "hours_to_convert double, revenue double, pre_active_days integer, as_of date)"
        )

    with connect(path) as con:
        assert "file_rewritten_at" in [name for name, *_ in columns(con, "privacy.erasure_audit")]
        assert con.execute("select request_id, file_rewritten_at from privacy.erasure_audit").fetchall() == [
            ("r1", None)
        ]
        assert audit.awaiting_file_rewrite(con) == 1, "an old erasure's file still needs rewriting"
        assert "assignments" in [name for name, *_ in columns(con, "measurement.assignment_outcomes")]
        # The next erasure writes its audit row by name into the upgraded table.
        audit.write(
            con,
            audit.AuditRecord("r2", "h2", "email", "dpo", "cli", AT, AT, 1, {"raw.events": 2}),
        )
        assert con.execute(
            "select rows_removed_by_table from privacy.erasure_audit where request_id = 'r2'"
        ).fetchall() == [(json.dumps({"raw.events": 2}),)]


def test_a_reader_that_opens_a_previous_version_warehouse_first_finds_it_migrated(tmp_path: Path) -> None:
    # Guards read-only steps (quality checks, the preview) that may be the first to open an upgraded
    # deployment's warehouse: they cannot write, so they would meet the old shape.
    path = tmp_path / "warehouse.duckdb"
    previous_version_warehouse(path)
    with connect(path, read_only=True) as con:
        assert schema_version(con) == LATEST


def test_a_failing_migration_leaves_the_warehouse_at_the_previous_version_and_names_the_migration(
    tmp_path: Path,
) -> None:
    # Guards a half-applied upgrade: a migration that changes one table and then fails must leave
    # nothing of itself behind, and say which migration it was, so the fix is known.
    path = tmp_path / "warehouse.duckdb"
    before = previous_version_warehouse(path)

    def add_a_column_then_fail(con: duckdb.DuckDBPyConnection) -> None:
        con.execute("alter table scoring.churn_scores add column segment varchar")
        con.execute("update scoring.churn_scores set churn_probability = 1")
        con.execute("select error('the data does not fit the new column')")

    broken = (*MIGRATIONS, Migration(LATEST + 1, "churn scores gain a segment", add_a_column_then_fail))
    with duckdb.connect(str(path)) as con:
        with pytest.raises(MigrationFailed) as failed:
            migrate(con, broken)
        message = str(failed.value)
        assert f"migration {LATEST + 1} (churn scores gain a segment)" in message
        assert f"stays at version {LATEST}" in message
        assert "the data does not fit the new column" in message
        assert schema_version(con) == LATEST, "the migrations before it are kept"
        assert "segment" not in [name for name, *_ in columns(con, "scoring.churn_scores")]
        assert rows(con, "scoring.churn_scores") == before["scoring.churn_scores"]


def test_a_warehouse_migrated_by_a_later_version_is_refused_rather_than_written_in_the_old_shape(
    tmp_path: Path,
) -> None:
    # Guards a rollback of the code: an older release would write a table whose shape it does not know.
    path = tmp_path / "warehouse.duckdb"
    with connect(path) as con:
        con.execute(
            "insert into operations.schema_migrations values (?, 'from the future', now())", [LATEST + 1]
        )
    with pytest.raises(WarehouseTooNew, match=f"migration\\(s\\) {LATEST + 1}"), connect(path):
        pass


def test_a_reader_given_a_warehouse_without_a_declared_table_names_it_instead_of_guessing() -> None:
    # Guards the readers that used to answer "never built" for a table that was not there at all.
    with duckdb.connect() as con, pytest.raises(MissingTable, match="no table operations.warehouse_builds"):
        build_state.built_as_of(con)


def test_a_table_its_writer_creates_reads_as_no_rows_of_its_declared_columns_until_written() -> None:
    # Guards measurement before the first delivery: delivery.campaign_sends does not exist yet.
    with duckdb.connect() as con:
        migrate(con)
        before = con.execute(f"select * from {stored_or_empty(con, CAMPAIGN_SENDS)} as sends")
        described = [(column[0], str(column[1])) for column in before.description]
        assert before.fetchall() == []
        con.execute("create schema if not exists delivery")
        con.execute(CAMPAIGN_SENDS.ddl())
        built = con.execute(f"select * from {CAMPAIGN_SENDS.name}").description
        assert described == [(column[0], str(column[1])) for column in built]
        assert stored_or_empty(con, CAMPAIGN_SENDS) == CAMPAIGN_SENDS.name
        with pytest.raises(ValueError, match="created by the migrations"):
            stored_or_empty(con, CAMPAIGN_SUMMARY)


def test_every_declared_table_has_exactly_its_declared_columns_after_migrating_a_fresh_warehouse(
    tmp_path: Path,
) -> None:
    # Guards a column declared without a migration (or a migration without its declaration): the
    # stages would write a column fresh and upgraded warehouses do not have, or miss one they do.
    migrated_tables = [t for t in TABLES if t.created_by_migrations]
    with connect(tmp_path / "warehouse.duckdb") as migrated, duckdb.connect() as declared:
        for table in migrated_tables:
            declared.execute(f"create schema if not exists {table.schema}")
            declared.execute(table.ddl())
            assert columns(migrated, table.name) == columns(declared, table.name), table.name
        owned = {t.schema for t in TABLES}
        created = {
            f"{schema}.{name}"
            for schema, name in migrated.execute(
                "select schema_name, table_name from duckdb_tables() where database_name = current_database()"
            ).fetchall()
            if schema in owned
        }
        assert created == {t.name for t in migrated_tables}, "every table a migration creates is declared"


# The experiment tables as measurement left them before migration 4: recreated from its DataFrames
# every run, so typed as pandas inferred (read from a warehouse that version built). run_date and
# assigned_date are timestamps, counts with a missing value doubles, and a sequential decision date
# never reached yet a double. Two run dates of rows each.
PANDAS_TYPED_DDL = """
create table measurement.campaign_summary (run_date timestamp, campaign_id varchar, variant varchar,
    arm varchar, assigned bigint, matured bigint, sent bigint, delivered bigint, opened bigint,
    clicked bigint, bounced bigint, spam_reported bigint, unsubscribed bigint, converted bigint,
    converted_matured bigint, click_through_rate double, conversion_rate double, revenue double,
    revenue_per_user double, median_hours_to_convert double, median_hours_to_click double);
insert into measurement.campaign_summary values
    ('2026-03-09', 'winback', 'control', 'treatment', 40, 30, 40, 38, 12, 4, 1, 0, 0, 3, 2, 0.105,
     0.0667, 120.5, 2.5, 20.0, null),
    ('2026-03-10', 'winback', 'control', 'treatment', 45, 33, 45, 43, 13, 5, 1, 0, 1, 4, 3, 0.116,
     0.0909, 160.0, 3.1, 18.5, 4.0);
create table measurement.campaign_comparisons (run_date timestamp, campaign_id varchar,
    comparison varchar, variant varchar, baseline varchar, metric varchar, n_baseline bigint,
    x_baseline double, n_variant bigint, x_variant double, value_baseline double, value_variant double,
    abs_lift double, abs_ci_low double, abs_ci_high double, rel_lift double, rel_ci_low double,
    rel_ci_high double, p_value double, p_adjusted double, prob_beat double, cuped_abs_lift double,
    cuped_ci_low double, cuped_ci_high double, cuped_p_value double, cuped_variance_reduction double,
    seq_looks double, seq_p_value double, seq_ci_low double, seq_ci_high double,
    seq_first_decision_date double, decision varchar);
insert into measurement.campaign_comparisons values
    ('2026-03-09', 'winback', 'treatment_vs_holdout', 'all', 'holdout', 'conversion', 10, 1, 30, 5,
     0.1, 0.167, 0.067, -0.1, 0.23, 0.67, -0.5, 3.0, 0.6, 0.6, 0.7, 0.05, -0.1, 0.2, 0.5, 0.1, 2, 0.9,
     -0.3, 0.4, 'nan', 'no difference yet'),
    ('2026-03-10', 'winback', 'treatment_vs_holdout', 'all', 'holdout', 'revenue_per_user', 11, null,
     33, null, 1.5, 3.0, 1.5, -0.5, 3.5, 1.0, null, null, 0.2, 0.4, null, null, null, null, null, null,
     null, null, null, null, null, null);
create table measurement.campaign_srm (run_date timestamp, campaign_id varchar, cells varchar,
    observed varchar, expected varchar, chi2 double, p_value double, mismatch boolean);
insert into measurement.campaign_srm values
    ('2026-03-09', 'winback', 'control/holdout, control/treatment', '10, 30', '8, 32', 0.6, 0.44, false),
    ('2026-03-10', 'winback', 'control/holdout, control/treatment', '11, 33', '9, 35', 0.5, 0.48, false);
create table measurement.guardrail_metrics (run_date timestamp, campaign_id varchar, variant varchar,
    metric varchar, numerator bigint, denominator bigint, rate double, ci_low double, ci_high double,
    holdout_rate double, excess double, limit_value double, breached boolean);
insert into measurement.guardrail_metrics values
    ('2026-03-09', 'winback', 'all', 'unsubscribe_rate', 0, 38, 0.0, 0.0, 0.09, 0.0, 0.0, 0.02, false),
    ('2026-03-10', 'winback', 'all', 'spam_rate', 0, 43, 0.0, 0.0, 0.08, null, 0.0, 0.001, false);
create table measurement.campaign_daily (run_date timestamp, campaign_id varchar,
    assigned_date timestamp, matured boolean, n_treatment bigint, n_holdout bigint, open_rate double,
    click_rate double, conversion_treatment double, conversion_holdout double, abs_lift double,
    abs_ci_low double, abs_ci_high double);
insert into measurement.campaign_daily values
    ('2026-03-09', 'winback', '2026-03-02', true, 30, 10, 0.3, 0.1, 0.1, 0.1, 0.0, -0.2, 0.2),
    ('2026-03-10', 'winback', '2026-03-02', true, 30, 10, 0.3, 0.1, 0.1, 0.1, 0.0, -0.2, 0.2),
    ('2026-03-10', 'winback', '2026-03-03', false, 3, 1, null, null, 0.0, 0.0, 0.0, null, null);
"""
EXPERIMENT_TABLES = (CAMPAIGN_SUMMARY, CAMPAIGN_COMPARISONS, CAMPAIGN_SRM, GUARDRAIL_METRICS, CAMPAIGN_DAILY)


def warehouse_at_version_3_with_pandas_typed_tables(path: Path) -> dict[str, list[tuple]]:
    """A warehouse the version before migration 4 migrated and measured on two days; each table's rows."""
    with duckdb.connect(str(path)) as con:
        migrate(con, [m for m in MIGRATIONS if m.number <= 3])
        con.execute(PANDAS_TYPED_DDL)
        return {table.name: rows(con, table.name) for table in EXPERIMENT_TABLES}


def text_rows(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple]:
    """Every value as text, so a NaN compares equal to itself."""
    return con.execute(f"select columns(*)::varchar from {table} order by all").fetchall()


def as_declared(row: tuple, table: Table) -> tuple:
    """A row read from a pandas-typed table, with each value as its declared column holds it."""

    def value(v: object, declared: str) -> object:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return None
        if declared.startswith("date"):
            return v.date()  # a timestamp at midnight
        if declared.startswith("bigint"):
            return int(v)
        return v

    return tuple(value(v, c.type) for v, c in zip(row, table.columns, strict=True))


def test_experiment_tables_measurement_wrote_with_pandas_types_get_the_declared_types_and_keep_every_row(
    tmp_path: Path,
) -> None:
    # Guards the pandas-typed experiment tables: run_date a timestamp, counts doubles, a decision
    # date a double, and every earlier run date's rows dropped the day a frame's columns changed.
    # Opening the warehouse converts them in place and keeps both run dates' rows.
    path = tmp_path / "warehouse.duckdb"
    before = warehouse_at_version_3_with_pandas_typed_tables(path)

    with connect(path) as con, duckdb.connect() as declared:
        assert schema_version(con) == LATEST
        declared.execute("create schema measurement")
        for table in EXPERIMENT_TABLES:
            declared.execute(table.ddl())
            assert columns(con, table.name) == columns(declared, table.name), table.name
            expected = [as_declared(row, table) for row in before[table.name]]  # the same order
            assert rows(con, table.name) == expected, table.name
        assert con.execute(
            "select run_date, seq_first_decision_date, x_baseline, seq_looks "
            "from measurement.campaign_comparisons order by run_date"
        ).fetchall() == [(DAY1, None, 1, 2), (DAY2, None, None, None)]
        leftovers = con.execute(
            "select table_name from duckdb_tables() where table_name like '%before_migration%'"
        ).fetchall()
        assert leftovers == []


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (
            "update measurement.campaign_daily set assigned_date = '2026-03-03 10:30' where not matured",
            "measurement.campaign_daily.assigned_date holds 2026-03-03 10:30:00, which is not a date",
        ),
        (
            "alter table measurement.guardrail_metrics alter numerator type double; "
            "update measurement.guardrail_metrics set numerator = 2.5 where metric = 'spam_rate'",
            "measurement.guardrail_metrics.numerator holds 2.5, which is not a bigint",
        ),
        (
            "alter table measurement.campaign_srm add column note varchar",
            "measurement.campaign_srm has column(s) note, which no version of measurement wrote",
        ),
    ],
)
def test_a_pandas_typed_table_that_would_not_convert_exactly_stops_the_migration_and_keeps_its_rows(
    tmp_path: Path, change: str, named: str
) -> None:
    # Guards a conversion that changes data on the way: a cast would cut a time of day off a date,
    # round a fraction in a count, or leave a column out. The migration fails, names the table,
    # column and value, and leaves every table as it was (rows and types), so nothing is lost.
    path = tmp_path / "warehouse.duckdb"
    warehouse_at_version_3_with_pandas_typed_tables(path)
    with duckdb.connect(str(path)) as con:
        con.execute(change)
        before = {table.name: text_rows(con, table.name) for table in EXPERIMENT_TABLES}
        types = {table.name: columns(con, table.name) for table in EXPERIMENT_TABLES}

    with pytest.raises(MigrationFailed) as failed, connect(path):
        pass
    message = str(failed.value)
    assert "migration 4" in message and "stays at version 3" in message
    assert named in message
    with duckdb.connect(str(path), read_only=True) as con:
        assert schema_version(con) == 3
        for table in EXPERIMENT_TABLES:
            assert text_rows(con, table.name) == before[table.name], table.name
            assert columns(con, table.name) == types[table.name], table.name


def test_decisions_made_before_probabilities_were_recorded_keep_every_value_and_get_none_guessed(
    tmp_path: Path,
) -> None:
    # Guards migration 5: the decisions table gains its probability, targeting and send-time
    # columns by a copy (PostgreSQL cannot take DuckDB's `double` in an added column), so every
    # stored decision must come back whole, and the chances of a day whose policy is gone stay empty.
    path = tmp_path / "warehouse.duckdb"
    previous_version_warehouse(path)
    with duckdb.connect(str(path)) as con:
        con.execute(
            "insert into interventions.decisions values"
            " ('2026-03-09', 'u1', 'winback', 'chosen', 'chosen', 10, 0.25),"
            " ('2026-03-09', 'u2', 'winback', 'suppressed', 'suppressed:bounce', 10, null)"
        )
    with connect(path) as con:
        stored = con.execute(
            "select customer_id, reason, priority, churn_probability, treatment_probability,"
            " assignment_probability, exploration, targeting, scheduled_send_at_utc"
            " from interventions.decisions order by customer_id"
        ).fetchall()
        assert [name for name, _, _ in columns(con, "interventions.decisions")] == DECISIONS.names
    assert stored == [
        ("u1", "chosen", 10, 0.25, None, None, None, None, None),
        ("u2", "suppressed:bounce", 10, None, None, None, None, None, None),
    ]


def test_crm_snapshots_loaded_before_sms_keep_every_value_and_get_no_phone_or_sms_consent(
    tmp_path: Path,
) -> None:
    # Guards the SMS contact columns: a warehouse loaded before them must keep its snapshots (the
    # email channel decides on them) and must not read as anybody having agreed to texts.
    path = tmp_path / "warehouse.duckdb"
    previous_version_warehouse(path)
    jan5 = datetime(2026, 1, 5, tzinfo=UTC)
    snapshot = (
        "u1", "u1@example.com", "Ann", "DE", "Europe/Berlin", jan5, "pro", 12.5,
        True, jan5, datetime(2026, 3, 9, tzinfo=UTC), "customers.csv", 1, DAY1, AT,
    )  # fmt: skip
    with duckdb.connect(str(path)) as con:
        con.execute(f"insert into raw.customers values ({', '.join('?' * len(snapshot))})", list(snapshot))
    with connect(path) as con:
        assert rows(con, "raw.customers", as_before=True) == [snapshot]
        assert con.execute(
            "select phone, sms_consent, sms_consent_updated_at from raw.customers"
        ).fetchall() == [(None, None, None)]


def test_decisions_made_before_the_control_probability_keep_every_value_and_get_none_guessed(
    tmp_path: Path,
) -> None:
    # Guards migration 15: the decisions table gains control_probability by a copy, so every
    # stored decision comes back whole, and the chance of a day whose policy is gone stays empty
    # (such rows are then no evaluation data: the uplift examples leave them out).
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        migrate(con, [m for m in MIGRATIONS if m.number < 15])
        con.execute(
            "insert into interventions.decisions (run_date, customer_id, campaign_id, channel, outcome,"
            " reason, priority, treatment_probability, selection_probability, assignment_probability)"
            " values ('2026-03-09', 'u1', 'winback', 'email', 'chosen', 'chosen', 10, 0.27, 0.3, 0.27)"
        )
    with connect(path) as con:
        stored = con.execute(
            "select customer_id, treatment_probability, selection_probability, control_probability,"
            " assignment_probability from interventions.decisions"
        ).fetchall()
        assert [name for name, _, _ in columns(con, "interventions.decisions")] == DECISIONS.names
    assert stored == [("u1", 0.27, 0.3, None, 0.27)]
