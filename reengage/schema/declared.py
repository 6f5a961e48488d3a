"""Every warehouse table the Python stages write, declared once: its columns, types and constraints.

Each stage takes its insert column lists from here (inserts name their columns, never rely on
the order a table keeps them in), and `migrations.py` brings every warehouse to this shape. A
declaration is what the code expects *now*; the migrations are how a warehouse gets there, so
adding a column is two edits: the column here and a migration that adds it (docs/operations.md,
Warehouse schema). `tests/schema/test_migrations.py` fails when the two disagree.

The raw tables are the ingest contracts' own columns (contracts.py, one line per column) plus
the lineage columns every load adds; they are declared from the contracts, so a contract that
gains a column needs a migration like any other table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reengage.defs.ingest.contracts import CONTRACTS, SQL_TYPES


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # the DuckDB type with its constraint, as written in the DDL: "varchar not null"


@dataclass(frozen=True)
class Table:
    name: str  # schema.table
    columns: tuple[Column, ...]
    # False for a table its writer creates (from this declaration) the first time it writes, and
    # whose absence therefore says that writer never ran; a migration changing it must allow for that.
    created_by_migrations: bool = True

    @property
    def schema(self) -> str:
        return self.name.split(".")[0]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def columns_sql(self) -> str:
        """The column definitions of a create statement: `"a" varchar not null, "b" date`."""
        return ", ".join(f'"{c.name}" {c.type}' for c in self.columns)

    def ddl(self) -> str:
        return f"create table if not exists {self.name} ({self.columns_sql()})"

    def column_list(self, names: Sequence[str] | None = None) -> str:
        """`"a", "b"`: the declared columns (or `names`, each checked to be declared), quoted."""
        chosen = list(names) if names is not None else self.names
        unknown = [n for n in chosen if n not in self.names]
        if unknown:
            raise KeyError(f"{self.name} declares no column(s) {', '.join(unknown)}")
        return ", ".join(f'"{n}"' for n in chosen)

    def check_columns(self, names: Sequence[str]) -> None:
        """Raise ValueError naming this table and the declared columns `names` lacks or the ones it adds.

        For rows built in Python (a DataFrame's columns) before they are written by name: a
        column renamed or dropped by mistake must stop the write, not leave a null behind.
        """
        missing = [n for n in self.names if n not in names]
        unknown = [n for n in names if n not in self.names]
        if missing or unknown:
            problems = [f"lack declared column(s) {', '.join(missing)}"] if missing else []
            problems += [f"have undeclared column(s) {', '.join(unknown)}"] if unknown else []
            raise ValueError(f"the rows for {self.name} {' and '.join(problems)}")

    def empty_select(self) -> str:
        """A query of this table's columns, with their declared types, that returns no rows."""
        columns = ", ".join(f'null::{c.type.removesuffix(" not null")} as "{c.name}"' for c in self.columns)
        return f"select {columns} where false"

    def insert_values(self, names: Sequence[str] | None = None) -> str:
        """`insert into T ("a", "b") values (?, ?)`: by name, for the declared columns or `names`."""
        chosen = list(names) if names is not None else self.names
        placeholders = ", ".join("?" for _ in chosen)
        return f"insert into {self.name} ({self.column_list(chosen)}) values ({placeholders})"


def _table(name: str, *columns: tuple[str, str], created_by_migrations: bool = True) -> Table:
    return Table(name, tuple(Column(n, t) for n, t in columns), created_by_migrations)


# --- operations: the warehouse's own bookkeeping ----------------------------------------------

SCHEMA_MIGRATIONS = _table(
    "operations.schema_migrations",
    ("version", "integer not null primary key"),
    ("description", "varchar not null"),
    ("applied_at", "timestamptz not null"),
)
WAREHOUSE_BUILDS = _table(
    "operations.warehouse_builds",
    ("build_id", "varchar not null"),
    ("run_date", "date not null"),
    ("start_date", "date not null"),
    ("full_refresh", "boolean not null"),
    ("started_at", "timestamptz not null"),
    ("completed_at", "timestamptz"),
)
WAREHOUSE_MEANINGS = _table(
    "operations.warehouse_meanings",
    ("setting", "varchar not null primary key"),
    ("digest", "varchar not null"),
    ("build_id", "varchar not null"),
    ("recorded_at", "timestamptz not null"),
)
STEP_INPUTS = _table(
    "operations.step_inputs",
    ("step", "varchar not null"),
    ("run_date", "date not null"),
    ("fingerprint", "varchar not null"),
    ("output", "varchar not null"),
    ("run_id", "varchar not null"),
    ("recorded_at", "timestamptz not null"),
)

# --- raw: the ingest contracts' columns, then where each row came from -------------------------

LINEAGE_COLUMNS = (
    ("_source_file", "varchar"),
    ("_source_row", "bigint"),
    ("_partition_date", "date"),
    ("_loaded_at", "timestamptz"),
)
RAW_TABLES = {
    source: _table(
        f"raw.{source}", *((c.name, SQL_TYPES[c.type]) for c in contract.columns), *LINEAGE_COLUMNS
    )
    for source, contract in CONTRACTS.items()
}
QUARANTINE = _table(
    "raw.quarantine",
    ("source", "varchar"),
    ("file", "varchar"),
    ("row", "bigint"),
    ("column", "varchar"),
    ("reason", "varchar"),
    ("raw_record", "varchar"),
    # False: the row was refused (not loaded). True: the row was loaded with this soft column's value
    # set to null (contracts.py, Column.soft).
    ("row_kept", "boolean not null"),
    ("_partition_date", "date"),
    ("_loaded_at", "timestamptz"),
)

# --- scoring: the models' outputs, one row per customer and run date ---------------------------

CHURN_SCORES = _table(
    "scoring.churn_scores",
    ("customer_id", "varchar not null"),
    ("run_date", "date not null"),
    ("churn_probability", "double not null"),
    ("model_version", "varchar not null"),
)
PREFERRED_SEND_HOURS = _table(
    "scoring.preferred_send_hours",
    ("customer_id", "varchar not null"),
    ("run_date", "date not null"),
    ("preferred_local_hour", "integer not null"),
    ("source", "varchar not null"),
    ("activity_slots", "integer not null"),
)
BEHAVIOUR_CLUSTERS = _table(
    "scoring.behaviour_clusters",
    ("customer_id", "varchar not null"),
    ("run_date", "date not null"),
    ("cluster_id", "integer not null"),
    ("cluster_label", "varchar not null"),
)

UPLIFT_SCORES = _table(
    "scoring.uplift_scores",
    ("customer_id", "varchar not null"),
    ("campaign_id", "varchar not null"),
    ("run_date", "date not null"),
    ("predicted_uplift", "double not null"),  # absolute change of the target event's probability
    ("model_version", "varchar not null"),
)

# --- interventions: the policy's decisions and the day's list -----------------------------------

DECISIONS = _table(
    "interventions.decisions",
    ("run_date", "date not null"),
    ("customer_id", "varchar not null"),
    ("campaign_id", "varchar not null"),
    # The channel the campaign would reach the user on (the first usable of its channels, else its
    # first), whatever the outcome; rows decided before channels existed are email.
    ("channel", "varchar not null"),
    ("outcome", "varchar not null"),
    ("reason", "varchar not null"),
    ("priority", "integer not null"),
    ("churn_probability", "double"),
    # The probabilities of the day's random draws (exploration, global holdout, campaign holdout,
    # variant), given everything the policy decided without chance. Null on rows decided before
    # they were recorded: never recomputed, since the policy of that day is gone.
    ("treatment_probability", "double"),  # of being sent this campaign's message
    ("selection_probability", "double"),  # of the campaign's targeting assigning it (either arm)
    # of a draw holding it back from the campaign for good (global holdout or campaign holdout, once
    # assigned): the comparison arm that is never sent this campaign's message later in its window
    ("control_probability", "double"),
    ("assignment_probability", "double"),  # of the assignment recorded (reason and variant)
    ("exploration", "boolean"),  # the exploration draw picked the row, whatever its score
    ("targeting", "varchar"),  # the mode applied: rules, uplift, risk or random
    ("predicted_uplift", "double"),  # the uplift model's prediction, for uplift targeting
    ("uplift_model_version", "varchar"),
    # When its message went or would have gone (rows chance could have sent), so outcomes of
    # every arm are counted from the same clock.
    ("scheduled_send_at_utc", "timestamptz"),
)
INTERVENTION_LIST = _table(
    "interventions.intervention_list",
    ("send_id", "varchar not null"),
    ("run_date", "date not null"),
    ("customer_id", "varchar not null"),
    ("channel", "varchar not null"),
    ("contact", "varchar not null"),  # the channel's contact key: an address for email
    ("first_name", "varchar"),
    ("timezone", "varchar not null"),  # the zone the message is scheduled in
    ("campaign_id", "varchar not null"),
    ("variant", "varchar not null"),
    ("arm", "varchar not null"),
    ("template_id", "varchar"),
    ("subject", "varchar"),
    ("body", "varchar"),
    ("template_data", "varchar not null"),
    ("scheduled_send_at_utc", "timestamptz not null"),
    ("scheduled_send_at_local", "varchar not null"),
    ("priority", "integer not null"),
    ("churn_probability", "double"),
)

# --- delivery: the send ledger's rows, mirrored for caps and measurement ------------------------

# Created by the first delivery (defs/delivery/assets.py, mirror_ledger), not by a migration: a
# warehouse without it is one whose delivery never ran (a blocked first day), which readers treat
# as "no sends yet" and the end-to-end tests check.
CAMPAIGN_SENDS = _table(
    "delivery.campaign_sends",
    ("send_id", "varchar"),
    ("run_date", "date"),
    ("customer_id", "varchar"),
    ("campaign_id", "varchar"),
    ("channel", "varchar"),
    ("variant", "varchar"),
    ("state", "varchar"),
    ("batch_id", "varchar"),
    ("attempts", "integer"),
    ("last_error", "varchar"),
    ("planned_at", "timestamptz"),
    ("updated_at", "timestamptz"),
    ("accepted_at", "timestamptz"),
    ("send_at", "bigint"),
    ("in_doubt", "boolean"),
    created_by_migrations=False,
)

# --- measurement ---------------------------------------------------------------------------------

CAMPAIGN_RESULTS = _table(
    "measurement.campaign_results",
    ("run_date", "date"),
    ("campaign_id", "varchar"),
    ("channel", "varchar"),
    ("variant", "varchar"),
    ("arm", "varchar"),
    ("assigned", "bigint"),
    ("sent", "bigint"),
    ("delivered", "bigint"),
    ("opened", "bigint"),
    ("clicked", "bigint"),
    ("unsubscribed", "bigint"),
    ("converted", "bigint"),
    ("click_rate", "double"),
    ("conversion_rate", "double"),
    ("computed_at", "timestamptz"),
)
CAMPAIGN_GUARDRAILS = _table(
    "measurement.campaign_guardrails",
    ("campaign_id", "varchar not null"),
    ("run_date", "date not null"),
    ("paused", "boolean not null"),
    ("reason", "varchar"),
)
ASSIGNMENT_OUTCOMES = _table(
    "measurement.assignment_outcomes",
    ("send_id", "varchar"),
    ("run_date", "date"),
    ("customer_id", "varchar"),
    ("campaign_id", "varchar"),
    ("channel", "varchar"),  # the channel of the first assignment (the one the user entered on)
    ("variant", "varchar"),
    ("arm", "varchar"),
    ("assignments", "integer"),
    ("scheduled_at", "timestamp"),
    ("window_end_at", "timestamp"),
    ("matured", "boolean"),
    ("sent", "boolean"),
    ("delivered", "boolean"),
    ("opened", "boolean"),
    ("clicked", "boolean"),
    ("bounced", "boolean"),
    ("spam_reported", "boolean"),
    ("unsubscribed", "boolean"),
    ("converted", "boolean"),
    ("hours_to_open", "double"),
    ("hours_to_click", "double"),
    ("hours_to_convert", "double"),
    ("revenue", "double"),
    ("pre_active_days", "integer"),
    ("as_of", "date"),
)

# The day's experiment tables (reengage/defs/measurement/analysis.py): one set of rows per run
# date, each run replacing its own date's rows. Counts are of users.
CAMPAIGN_SUMMARY = _table(
    "measurement.campaign_summary",
    ("run_date", "date not null"),
    ("campaign_id", "varchar not null"),
    ("variant", "varchar not null"),
    ("arm", "varchar not null"),
    ("assigned", "bigint"),
    ("matured", "bigint"),
    ("sent", "bigint"),
    ("delivered", "bigint"),
    ("opened", "bigint"),
    ("clicked", "bigint"),
    ("bounced", "bigint"),
    ("spam_reported", "bigint"),
    ("unsubscribed", "bigint"),
    ("converted", "bigint"),
    ("converted_matured", "bigint"),
    ("click_through_rate", "double"),
    ("conversion_rate", "double"),
    ("revenue", "double"),
    ("revenue_per_user", "double"),
    ("median_hours_to_convert", "double"),
    ("median_hours_to_click", "double"),
)
CAMPAIGN_COMPARISONS = _table(
    "measurement.campaign_comparisons",
    ("run_date", "date not null"),
    ("campaign_id", "varchar not null"),
    ("comparison", "varchar not null"),  # treatment_vs_holdout, variant_vs_holdout, variant_vs_control
    ("variant", "varchar not null"),
    ("baseline", "varchar not null"),
    ("metric", "varchar not null"),  # conversion or revenue_per_user
    ("n_baseline", "bigint"),
    ("x_baseline", "bigint"),  # conversions; null for revenue
    ("n_variant", "bigint"),
    ("x_variant", "bigint"),
    ("value_baseline", "double"),
    ("value_variant", "double"),
    ("abs_lift", "double"),
    ("abs_ci_low", "double"),
    ("abs_ci_high", "double"),
    ("rel_lift", "double"),
    ("rel_ci_low", "double"),
    ("rel_ci_high", "double"),
    ("p_value", "double"),
    ("p_adjusted", "double"),
    ("prob_beat", "double"),
    ("cuped_abs_lift", "double"),
    ("cuped_ci_low", "double"),
    ("cuped_ci_high", "double"),
    ("cuped_p_value", "double"),
    ("cuped_variance_reduction", "double"),
    ("seq_looks", "bigint"),
    ("seq_p_value", "double"),
    ("seq_ci_low", "double"),
    ("seq_ci_high", "double"),
    ("seq_first_decision_date", "date"),  # the daily look at which the sequential test decided
    ("decision", "varchar"),
)
CAMPAIGN_SRM = _table(
    "measurement.campaign_srm",
    ("run_date", "date not null"),
    ("campaign_id", "varchar not null"),
    ("cells", "varchar"),  # "control/holdout, control/treatment, ...": the planned (variant, arm) cells
    ("observed", "varchar"),  # users per cell, in the same order
    ("expected", "varchar"),
    ("chi2", "double"),
    ("p_value", "double"),
    ("mismatch", "boolean"),
)
GUARDRAIL_METRICS = _table(
    "measurement.guardrail_metrics",
    ("run_date", "date not null"),
    ("campaign_id", "varchar not null"),
    ("variant", "varchar not null"),
    ("metric", "varchar not null"),
    ("numerator", "bigint"),
    ("denominator", "bigint"),
    ("rate", "double"),
    ("ci_low", "double"),
    ("ci_high", "double"),
    ("holdout_rate", "double"),
    ("excess", "double"),
    ("limit_value", "double"),
    ("breached", "boolean"),
)
# Each campaign's results per channel (analysis.py, `_channels`): the treated users the campaign
# reached on the channel against the held-out users it would have reached on it (the policy picks the
# channel before the holdout draw, so a held-out row records it); channel 'all' sums a campaign on
# several channels. Opens and clicks are null on a channel whose provider cannot report them (texts).
CAMPAIGN_CHANNELS = _table(
    "measurement.campaign_channels",
    ("run_date", "date not null"),
    ("campaign_id", "varchar not null"),
    ("channel", "varchar not null"),
    ("treated", "bigint"),  # users in the treatment arm whose first assignment was on the channel
    ("held_out", "bigint"),  # held-out users whose first assignment would have been on it
    ("sent", "bigint"),
    ("delivered", "bigint"),
    ("failed", "bigint"),  # a bounce or drop (email), an undelivered or failed text
    ("opted_out", "bigint"),  # delivered users who unsubscribed (email) or replied STOP (text)
    ("opt_out_rate", "double"),  # opted_out out of delivered
    ("holdout_opt_out_rate", "double"),  # held-out users who unsubscribed or replied STOP anyway
    ("opened", "bigint"),
    ("clicked", "bigint"),
    ("click_through_rate", "double"),
    ("matured_treated", "bigint"),
    ("converted_treated", "bigint"),
    ("matured_held_out", "bigint"),
    ("converted_held_out", "bigint"),
    ("conversion_treated", "double"),
    ("conversion_held_out", "double"),
    ("abs_lift", "double"),  # null until each arm has min_per_channel_arm users whose window closed
    ("abs_ci_low", "double"),
    ("abs_ci_high", "double"),
    ("p_value", "double"),
    ("enough_users", "boolean"),
)
# The settings each campaign's measurement used on a run date, so the report's verdict judges by the
# same ones (the guardrails' limits are in guardrail_metrics.limit_value).
CAMPAIGN_SETTINGS = _table(
    "measurement.campaign_settings",
    ("run_date", "date not null"),
    ("campaign_id", "varchar not null"),
    ("alpha", "double not null"),  # two-sided level of every interval and test
    ("msprt_tau", "double not null"),  # scale of the sequential test's mixture
    ("min_per_arm", "bigint not null"),  # matured users per arm before the sequential test decides
)
# What each candidate targeting would have achieved for a campaign, judged on its logged
# decisions (reengage/learning/uplift/judging.py): one set of rows per campaign and run date it was judged on.
TARGETING_ESTIMATES = _table(
    "measurement.targeting_estimates",
    ("run_date", "date not null"),
    ("campaign_id", "varchar not null"),
    ("targeting", "varchar not null"),  # "as run", "uplift, 30% a day", ...
    ("sends_per_1000", "double not null"),
    ("incremental_per_1000", "double not null"),  # conversions against sending nobody (doubly robust)
    ("incremental_per_1000_low", "double not null"),
    ("incremental_per_1000_high", "double not null"),
    ("incremental_total", "double not null"),
    ("decisions", "bigint not null"),  # the matured randomized decisions judged on
    ("first_day", "date not null"),
    ("last_day", "date not null"),
)
CAMPAIGN_DAILY = _table(
    "measurement.campaign_daily",
    ("run_date", "date not null"),
    ("campaign_id", "varchar not null"),
    ("assigned_date", "date not null"),  # the day the users entered (their first assignment)
    ("matured", "boolean"),
    ("n_treatment", "bigint"),
    ("n_holdout", "bigint"),
    ("open_rate", "double"),
    ("click_rate", "double"),
    ("conversion_treatment", "double"),
    ("conversion_holdout", "double"),
    ("abs_lift", "double"),
    ("abs_ci_low", "double"),
    ("abs_ci_high", "double"),
)

# --- privacy: what erasure keeps (hashes and counts, never an identifier) ------------------------

FORGET_LIST = _table(
    "privacy.forget_list",
    ("key_hash", "varchar not null"),
    ("key_kind", "varchar not null"),
    ("request_id", "varchar not null"),
    ("added_at", "timestamptz not null"),
)
FORGET_LIST_PEPPER = _table(
    "privacy.forget_list_pepper",
    ("fingerprint", "varchar not null"),
    ("recorded_at", "timestamptz not null"),
)
ERASURE_AUDIT = _table(
    "privacy.erasure_audit",
    ("request_id", "varchar not null"),
    ("subject_hash", "varchar not null"),
    ("subject_kind", "varchar not null"),
    ("requested_by", "varchar not null"),
    ("request_source", "varchar not null"),
    ("requested_at", "timestamptz not null"),
    ("completed_at", "timestamptz not null"),
    ("identifiers_forgotten", "integer not null"),
    ("rows_removed", "bigint not null"),
    ("rows_removed_by_table", "varchar not null"),
    ("file_rewritten_at", "timestamptz"),
)

TABLES: tuple[Table, ...] = (
    SCHEMA_MIGRATIONS,
    WAREHOUSE_BUILDS,
    WAREHOUSE_MEANINGS,
    STEP_INPUTS,
    *RAW_TABLES.values(),
    QUARANTINE,
    CHURN_SCORES,
    PREFERRED_SEND_HOURS,
    BEHAVIOUR_CLUSTERS,
    UPLIFT_SCORES,
    DECISIONS,
    INTERVENTION_LIST,
    CAMPAIGN_SENDS,
    CAMPAIGN_RESULTS,
    CAMPAIGN_GUARDRAILS,
    ASSIGNMENT_OUTCOMES,
    CAMPAIGN_SUMMARY,
    CAMPAIGN_COMPARISONS,
    CAMPAIGN_SRM,
    GUARDRAIL_METRICS,
    CAMPAIGN_DAILY,
    CAMPAIGN_CHANNELS,
    CAMPAIGN_SETTINGS,
    TARGETING_ESTIMATES,
    FORGET_LIST,
    FORGET_LIST_PEPPER,
    ERASURE_AUDIT,
)
