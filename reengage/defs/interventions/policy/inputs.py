"""The warehouse tables the policy reads, each turned into a subquery the decision joins.

The dbt marts fail loudly when missing: the features (nothing to decide on), the suppression
list (nobody may be mailed without it) and the responses mart while the pause after a response
is on. The tables the Python stages write (scores, send hours, guardrails, the list) are
declared in `reengage.schema` and exist in every migrated warehouse (`decide` migrates
first), empty until their stage first writes; the sends table appears with the first delivery.
No scores rank by campaign id, no send hours use the features' hour, no guardrails pause
nothing, no history caps nothing. A column one of them lacks is an error naming it, because
guessing would either mail too much or stop everything.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import duckdb

from reengage.channels import Channel
from reengage.defs.interventions.campaigns import Campaign
from reengage.defs.interventions.policy.config import PolicyError
from reengage.defs.interventions.policy.persistence import LIST_TABLE
from reengage.defs.interventions.policy.sql import date_literal
from reengage.defs.interventions.predicates import sql_literal
from reengage.defs.interventions.schema import FEATURE_COLUMNS
from reengage.schema.declared import (
    CAMPAIGN_GUARDRAILS,
    CAMPAIGN_SENDS,
    CHURN_SCORES,
    DECISIONS,
    INTERVENTION_LIST,
    PREFERRED_SEND_HOURS,
    UPLIFT_SCORES,
)
from reengage.schema.migrations import require
from reengage.send_ids import send_id_sql
from reengage.tables import relation_exists

FEATURES_TABLE = "marts.fct_user_features"
RESPONSES_TABLE = "marts.fct_user_responses"
SCORES_TABLE = CHURN_SCORES.name
SEND_HOURS_TABLE = PREFERRED_SEND_HOURS.name
GUARDRAILS_TABLE = CAMPAIGN_GUARDRAILS.name
SENDS_TABLE = CAMPAIGN_SENDS.name

# Every column of the mart's dbt contract: a warehouse built before a column was added is refused
# with the names it lacks, not read with a guess.
REQUIRED_FEATURE_COLUMNS = tuple(FEATURE_COLUMNS)
# What the pause after a response reads of marts.fct_user_responses (its dbt YAML describes every column).
REQUIRED_RESPONSE_COLUMNS = ("customer_id", "campaign_id", "responded_at")


def table_columns(con: duckdb.DuckDBPyConnection, relation: str) -> list[str]:
    """Column names of a table, view or temp table, in order."""
    return [row[0] for row in con.execute(f"describe {relation}").fetchall()]


def _require_columns(con: duckdb.DuckDBPyConnection, table: str, required: Sequence[str]) -> list[str]:
    """The table's columns, once it is certain to have every one of `required`."""
    columns = table_columns(con, table)
    missing = [c for c in required if c not in columns]
    if missing:
        raise PolicyError(f"{table} lacks column(s) {', '.join(missing)}")
    return columns


def features_sql(con: duckdb.DuckDBPyConnection, run_date: date) -> str:
    """The features of D, one row per customer (checked: present, complete, no duplicates)."""
    if not relation_exists(con, FEATURES_TABLE):
        raise PolicyError(f"{FEATURES_TABLE} does not exist; run the dbt models for {run_date} first")
    _require_columns(con, FEATURES_TABLE, REQUIRED_FEATURE_COLUMNS)
    # The mart holds the run date it was last built for; one that keeps history is read as of D.
    sql = f"select * from {FEATURES_TABLE} where as_of_date = {date_literal(run_date)}"
    rows, customers = con.execute(f"select count(*), count(distinct customer_id) from ({sql})").fetchone()
    if rows != customers:
        raise PolicyError(
            f"{FEATURES_TABLE} has {rows - customers} duplicate customer_id rows for {run_date}"
        )
    return sql


def suppressions_sql(con: duckdb.DuckDBPyConnection, channels: Sequence[Channel]) -> str:
    """Each channel's suppressed contacts (as match keys) with the first suppression's reason, in snake case.

    Columns channel, contact_key, reason.
    """
    parts = []
    for channel in channels:
        listed = channel.suppressions
        if not relation_exists(con, listed.table):
            # Fail closed: without its suppression list nobody may be reached on the channel.
            raise PolicyError(
                f"{listed.table} does not exist; refusing to decide without the {channel.name} suppressions"
            )
        _require_columns(
            con, listed.table, (listed.contact_column, listed.reason_column, listed.first_suppressed_column)
        )
        parts.append(f"""
        select {sql_literal(channel.name)} as channel,
               {channel.contact_key_sql(f's."{listed.contact_column}"')} as contact_key,
               arg_min(coalesce(nullif(regexp_replace(lower(trim(s."{listed.reason_column}")),
                                                       '[^a-z0-9]+', '_', 'g'), ''),
                                'unspecified'),
                       s."{listed.first_suppressed_column}") as reason
        from {listed.table} as s
        where s."{listed.contact_column}" is not null
        group by 1, 2""")
    empty = (
        "select null::varchar as channel, null::varchar as contact_key, null::varchar as reason where false"
    )
    return "\n        union all".join(parts) or empty


def scores_sql(con: duckdb.DuckDBPyConnection, run_date: date) -> str:
    require(con, CHURN_SCORES, ("customer_id", "run_date", "churn_probability", "model_version"))
    # The latest score on or before D: a day's missing scores should not erase the ranking.
    return f"""
        select cast(customer_id as varchar) as customer_id, churn_probability
        from {SCORES_TABLE}
        where cast(run_date as date) <= {date_literal(run_date)}
        qualify row_number() over (
            partition by customer_id order by run_date desc, model_version desc
        ) = 1"""


def uplift_scores_sql(con: duckdb.DuckDBPyConnection, run_date: date) -> str:
    """The uplift models' predictions for D itself: a campaign without any targets by its rules.

    Never an earlier day's: a prediction is made with that day's features, and a campaign whose
    model stopped predicting is safer on its trigger rules than on stale ranks.
    """
    require(
        con, UPLIFT_SCORES, ("customer_id", "campaign_id", "run_date", "predicted_uplift", "model_version")
    )
    return f"""
        select customer_id, campaign_id, predicted_uplift, model_version
        from {UPLIFT_SCORES.name}
        where run_date = {date_literal(run_date)}"""


def scored_campaigns(con: duckdb.DuckDBPyConnection, run_date: date) -> set[str]:
    """Campaigns with uplift predictions for D."""
    rows = con.execute(f"select distinct campaign_id from ({uplift_scores_sql(con, run_date)})").fetchall()
    return {campaign_id for (campaign_id,) in rows}


def churn_scores_exist(con: duckdb.DuckDBPyConnection, run_date: date) -> bool:
    """Whether any churn score was written on or before D (risk targeting has something to rank by)."""
    return bool(con.execute(f"select exists ({scores_sql(con, run_date)})").fetchone()[0])


def send_hours_sql(con: duckdb.DuckDBPyConnection, run_date: date) -> str:
    """The scoring model's preferred local send hour per customer (none before the model first ran).

    The table is the send-hour model's (reengage/learning/send_hour.py writes it): it keeps every run
    date, so it is read as of D (the latest on or before D), one row per customer.
    """
    require(con, PREFERRED_SEND_HOURS, ("customer_id", "run_date", "preferred_local_hour"))
    return f"""
        select customer_id, preferred_local_hour
        from {SEND_HOURS_TABLE}
        where run_date <= {date_literal(run_date)}
        qualify row_number() over (partition by customer_id order by run_date desc) = 1"""


def guardrails_sql(con: duckdb.DuckDBPyConnection, run_date: date, notes: list[str]) -> str:
    """Campaigns a measurement guardrail has paused on D: the latest row on or before D decides.

    A pause therefore lasts until a later row says `paused = false` (a NULL
    `paused` counts as paused); a table written once per day reads the same way.
    """
    # Guessing would either stop every campaign or ignore a pause: refuse loudly instead.
    require(con, CAMPAIGN_GUARDRAILS, ("campaign_id", "run_date", "paused", "reason"))
    latest = f"""
        select cast(campaign_id as varchar) as campaign_id, cast(reason as varchar) as reason
        from {GUARDRAILS_TABLE}
        where cast(run_date as date) <= {date_literal(run_date)}
        qualify row_number() over (
            partition by campaign_id order by run_date desc, coalesce(paused, true) desc
        ) = 1 and coalesce(paused, true)"""
    for campaign_id, why in con.execute(f"select * from ({latest}) order by 1").fetchall():
        notes.append(f"campaign {campaign_id} paused by a guardrail: {why or 'no reason given'}")
    return f"select campaign_id from ({latest})"


def history_sql(con: duckdb.DuckDBPyConnection, run_date: date, lookback_days: int, states: list[str]) -> str:
    """Messages of earlier runs, with their channel: ledger sends plus held-out winners (as if sent).

    Held-out winners are those of the campaign holdout (listed with arm `holdout`) and of the
    global holdout (decisions only). Counted as sends, a held user meets the caps and cooldowns a
    treated one would, so the global holdout's rows stand for the messages the policy would have
    sent: one per cooldown, not one every day.
    """
    low, high = f"{date_literal(run_date)} - {lookback_days}", date_literal(run_date)
    require(con, INTERVENTION_LIST, ("send_id", "run_date", "customer_id", "campaign_id", "channel", "arm"))
    require(
        con,
        DECISIONS,
        ("run_date", "customer_id", "campaign_id", "channel", "reason", "treatment_probability",
         "scheduled_send_at_utc"),
    )  # fmt: skip
    sent = ""
    if relation_exists(con, SENDS_TABLE):  # absent until the first delivery: no sends yet
        # Fail closed: without a usable history caps and cooldowns cannot be enforced.
        sends_columns = (
            "send_id",
            "run_date",
            "customer_id",
            "campaign_id",
            "channel",
            "state",
            "accepted_at",
        )
        require(con, CAMPAIGN_SENDS, sends_columns)
        state_list = ", ".join(sql_literal(s) for s in states) or "null"
        sent = f"""
            select cast(send_id as varchar) as send_id, cast(customer_id as varchar) as customer_id,
                   cast(campaign_id as varchar) as campaign_id, cast(channel as varchar) as channel,
                   cast(run_date as date) as run_date, cast(accepted_at as timestamptz) as reached_at
            from {SENDS_TABLE}
            where state in ({state_list})
              and cast(run_date as date) >= {low} and cast(run_date as date) < {high}
            union all"""
    return f"""{sent}
            select send_id, customer_id, campaign_id, channel, run_date, scheduled_send_at_utc as reached_at
            from {LIST_TABLE}
            where arm = 'holdout' and run_date >= {low} and run_date < {high}
            union all
            -- Only an assigned winner could have been sent (treatment_probability above 0): rows an
            -- earlier version held for every campaign of a held user are not all messages.
            select {send_id_sql("customer_id", "campaign_id", "run_date", "channel")} as send_id,
                   customer_id, campaign_id, channel, run_date, scheduled_send_at_utc as reached_at
            from {DECISIONS.name}
            where reason = 'global_holdout' and treatment_probability > 0
              and run_date >= {low} and run_date < {high}"""


def paused_sql(
    con: duckdb.DuckDBPyConnection,
    run_date: date,
    days: int,
    campaigns: Sequence[Campaign],
    notes: list[str],
) -> str:
    """Customers who responded to a message of one of `campaigns` in the `days` UTC days ending D.

    dbt builds the responses mart in every run (it is an input of the policy asset), so a
    missing mart or column is an error, not a skipped check: a silently skipped pause mails
    people who just answered. Mail of other campaigns (a legacy newsletter tagged the same
    way) is in the mart but pauses nobody.
    """
    if days == 0:
        notes.append("pause after response off: response_pause_days is 0")
        return "select null::varchar as customer_id where false"
    if not relation_exists(con, RESPONSES_TABLE):
        raise PolicyError(
            f"{RESPONSES_TABLE} does not exist; build the dbt models for {run_date} first "
            "(or set response_pause_days to 0 to turn the pause after a response off)"
        )
    _require_columns(con, RESPONSES_TABLE, REQUIRED_RESPONSE_COLUMNS)
    campaign_ids = ", ".join(sql_literal(c.id) for c in campaigns) or "null"
    return f"""
        select distinct cast(customer_id as varchar) as customer_id
        from {RESPONSES_TABLE}
        where campaign_id in ({campaign_ids})
          and cast(responded_at as date) > {date_literal(run_date)} - {days}
          and cast(responded_at as date) <= {date_literal(run_date)}"""
