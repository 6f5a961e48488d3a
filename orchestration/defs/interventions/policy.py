"""The daily decision: for every triggered (customer, campaign), send, hold out, or why not.

Everything up to the rendered message is one set-based DuckDB query, so the
cost is a few table scans whatever the number of users. Checks apply in a
fixed order and the first that fails is recorded as the reason:

1. `suppressed:<reason>`, itself in this order:
   - `no_consent`: the features' `consent_status` is `withdrawn` (the CRM
     snapshot says no, or a newer CRM row refused at ingest reads as a
     withdrawal);
   - `unverified_profile`: `consent_status` is anything but `granted` or
     `withdrawn`; `unverified` means the customer's newest CRM row was refused
     at ingest, so nobody can say whether they still agree. consent_status is
     decided in one place, dbt's int_customer_consent; only `granted` mails;
   - `<event>`: the address is in `marts.fct_email_suppressions` (bounce,
     dropped, spamreport, unsubscribe, group_unsubscribe: the first one);
   - `missing_email`, `invalid_email`: no address, or an obviously broken one.
2. `global_holdout`: a stable share of all users never receives anything, so
   the programme as a whole can be measured.
3. `campaign_paused`: a measurement guardrail paused the campaign for D
   (only when `measurement.campaign_guardrails` exists).
4. `frequency_cap`: messages that reached the user on their local day D, or
   in the rolling 7 local days ending D, from earlier runs.
5. `cooldown`: the same campaign reached the user within its cooldown.
6. `paused_after_response`: the user responded (opened, clicked,
   unsubscribed, reported spam or converted; `marts.fct_user_responses`) to
   a message of one of these campaigns in the `response_pause_days` UTC days
   ending D. The mart must exist unless the pause is off (0 days).
7. One winner per user and day, by priority, then churn score (which only
   separates campaigns once scores are per campaign), then campaign id so
   ties never depend on row order; the others are `lower_priority`.
8. The winner is `chosen`, or `campaign_holdout` when it falls in the
   campaign's holdout share. A chosen message whose template fails on the
   user's data becomes `render_error:<type>` and is left out of the list.

The campaign holdout is applied to the winner (after caps, cooldown and
priority) rather than before them: a held-out row then stands for exactly
the message that would have been sent, so treatment and holdout arms pass
through the same funnel and are comparable (tests/interventions name this
guarantee). Drawing the campaign holdout before the caps, the obvious place,
would put users into the holdout who would never have been sent the
message (capped, cooled down, or won by another campaign) and hand held-out
users to the next campaign, so both arms would differ. Held-out winners are
recorded in the intervention list with arm `holdout` and count, like real
sends, towards later frequency caps and cooldowns (otherwise a held-out user
would be "chosen" again every day and shut out of every other campaign).

Reruns of a run date are idempotent: history only counts runs before D, the
run date's rows are replaced in one transaction, and assignments are hashes
of (salt, customer, campaign).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import dagster as dg
import duckdb
import pandas as pd
import pyarrow as pa
from pydantic import Field

from orchestration.defs.interventions.campaigns import Campaign
from orchestration.defs.interventions.hashing import bucket_sql, send_id_sql
from orchestration.defs.interventions.messages import columns_needed, plans, render_messages
from orchestration.defs.interventions.predicates import audience_sql, sql_literal, trigger_sql
from orchestration.defs.interventions.scheduling import SendWindow, local_text_sql, scheduled_utc_sql

FEATURES_TABLE = "marts.fct_user_features"
SUPPRESSIONS_TABLE = "marts.fct_email_suppressions"
SCORES_TABLE = "scoring.churn_scores"
SEND_HOURS_TABLE = "scoring.preferred_send_hours"
GUARDRAILS_TABLE = "measurement.campaign_guardrails"
SENDS_TABLE = "delivery.campaign_sends"
RESPONSES_TABLE = "marts.fct_user_responses"
DECISIONS_TABLE = "interventions.decisions"
LIST_TABLE = "interventions.intervention_list"
DECISIONS_WORK_TABLE = "_interventions_decisions"
BASE_TABLE = "_interventions_base"

REQUIRED_FEATURE_COLUMNS = (
    "customer_id",
    "email",
    "first_name",
    "timezone",
    "consent_status",
    "preferred_local_hour",
)
# What the pause after a response reads of marts.fct_user_responses (its dbt YAML describes every column).
REQUIRED_RESPONSE_COLUMNS = ("customer_id", "campaign_id", "responded_at")
# The only consent_status that may be mailed (int_customer_consent); the policy names the others.
CONSENT_GRANTED = "granted"
CONSENT_WITHDRAWN = "withdrawn"
# Deliberately loose: the provider validates for real; this only catches the obviously broken.
EMAIL_PATTERN = r"[^@\s]+@[^@\s]+\.[^@\s.]+"

DECISIONS_DDL = f"""
create table if not exists {DECISIONS_TABLE} (
    run_date date not null,
    customer_id varchar not null,
    campaign_id varchar not null,
    outcome varchar not null,
    reason varchar not null,
    priority integer not null,
    churn_probability double
)"""

LIST_DDL = f"""
create table if not exists {LIST_TABLE} (
    send_id varchar not null,
    run_date date not null,
    customer_id varchar not null,
    email varchar not null,
    first_name varchar,
    timezone varchar not null,
    campaign_id varchar not null,
    variant varchar not null,
    arm varchar not null,
    template_id varchar,
    subject varchar,
    body varchar,
    template_data varchar not null,
    scheduled_send_at_utc timestamptz not null,
    scheduled_send_at_local varchar not null,
    priority integer not null,
    churn_probability double
)"""


class PolicyError(RuntimeError):
    """The inputs cannot be decided on safely (missing table or column, duplicate customers)."""


class PolicyConfig(dg.Config):
    """Run-time knobs of the policy, defaults as in docs/meanings.md (descriptions show in the launchpad)."""

    salt: str = Field(
        "reengage-v1",
        description="Hash salt for holdouts and variants; changing it reshuffles every assignment.",
    )
    global_holdout_share: float = Field(
        0.05, description="Share of all users who never receive any campaign."
    )
    max_per_day: int = Field(1, description="Messages a user may receive on one local day.")
    max_per_week: int = Field(
        3, description="Messages a user may receive in the rolling 7 local days ending D."
    )
    default_local_hour: int = Field(10, description="Local send hour when the user has no preferred hour.")
    send_window_start_hour: int = Field(8, description="First local hour messages may go out.")
    send_window_end_hour: int = Field(
        20, description="Local hour from which no message goes out (exclusive)."
    )
    default_timezone: str = Field(
        "UTC", description="IANA zone for users with a missing or unknown timezone."
    )
    response_pause_days: int = Field(
        7,
        description="UTC days, D included, in which a response to a campaign's message "
        "(marts.fct_user_responses) holds the user out of every campaign; 0 turns the pause off.",
    )
    counted_send_states: list[str] = Field(
        ["planned", "in_flight", "accepted", "sent", "delivered"],
        description="Ledger states that count as a message for caps and cooldowns.",
    )

    def window(self) -> SendWindow:
        return SendWindow(self.send_window_start_hour, self.send_window_end_hour, self.default_local_hour)

    def check(self, con: duckdb.DuckDBPyConnection) -> None:
        """Reject nonsense before it turns into a silent mass send or a mass skip."""
        try:
            self.window()
        except ValueError as error:
            raise PolicyError(str(error)) from error
        if not 0 <= self.global_holdout_share < 1:
            raise PolicyError(f"global_holdout_share must be in [0, 1), got {self.global_holdout_share}")
        if self.max_per_day < 0 or self.max_per_week < 0 or self.response_pause_days < 0:
            raise PolicyError("caps and pause days must not be negative")
        known = con.execute(
            "select count(*) from pg_timezone_names() where name = ?", [self.default_timezone]
        )
        if known.fetchone() != (1,):
            raise PolicyError(f"default_timezone {self.default_timezone!r} is not an IANA timezone name")


@dataclass(frozen=True)
class PolicyRun:
    """What one run decided, without any personal data (fit for logs and Dagster metadata)."""

    run_date: date
    campaigns: list[str]
    candidates: int
    list_rows: int
    treatment: int
    holdout: int
    counts: pd.DataFrame  # campaign_id, outcome, reason, n
    notes: list[str] = field(default_factory=list)
    # Customers (candidates or not) nobody may mail because their newest CRM row was refused at ingest.
    unverified_profiles: int = 0


# --- inputs ----------------------------------------------------------------------------


def table_exists(con: duckdb.DuckDBPyConnection, qualified: str) -> bool:
    """Whether a table or view (dbt may build marts as either) exists in the current database."""
    schema, name = qualified.split(".")
    row = con.execute(
        """
        select count(*) from (
            select database_name, schema_name, table_name as name from duckdb_tables()
            union all
            select database_name, schema_name, view_name from duckdb_views()
        ) where database_name = current_database() and schema_name = ? and name = ?""",
        [schema, name],
    ).fetchone()
    return bool(row and row[0])


def table_columns(con: duckdb.DuckDBPyConnection, relation: str) -> list[str]:
    """Column names of a table, view or temp table, in order."""
    return [row[0] for row in con.execute(f"describe {relation}").fetchall()]


def _date(value: date) -> str:
    return f"date '{value.isoformat()}'"


def _instant(value: datetime) -> str:
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return f"timestamptz '{aware.astimezone(UTC).isoformat()}'"


def _features_sql(con: duckdb.DuckDBPyConnection, run_date: date) -> str:
    if not table_exists(con, FEATURES_TABLE):
        raise PolicyError(f"{FEATURES_TABLE} does not exist; run the dbt models for {run_date} first")
    columns = table_columns(con, FEATURES_TABLE)
    missing = [c for c in REQUIRED_FEATURE_COLUMNS if c not in columns]
    if missing:
        raise PolicyError(f"{FEATURES_TABLE} lacks column(s) {', '.join(missing)}")
    # A features table that keeps history is read as of the run date.
    as_of = next((c for c in ("run_date", "as_of_date") if c in columns), None)
    where = f" where cast({as_of} as date) = {_date(run_date)}" if as_of else ""
    sql = f"select * from {FEATURES_TABLE}{where}"
    rows, customers = con.execute(f"select count(*), count(distinct customer_id) from ({sql})").fetchone()
    if rows != customers:
        raise PolicyError(
            f"{FEATURES_TABLE} has {rows - customers} duplicate customer_id rows for {run_date}"
        )
    return sql


def _scores_sql(con: duckdb.DuckDBPyConnection, run_date: date) -> str:
    if not table_exists(con, SCORES_TABLE):
        return "select null::varchar as customer_id, null::double as churn_probability where false"
    # The latest score on or before D: a day's missing scores should not erase the ranking.
    return f"""
        select cast(customer_id as varchar) as customer_id, churn_probability
        from {SCORES_TABLE}
        where cast(run_date as date) <= {_date(run_date)}
        qualify row_number() over (
            partition by customer_id order by run_date desc, model_version desc
        ) = 1"""


def _send_hours_sql(con: duckdb.DuckDBPyConnection, run_date: date, notes: list[str]) -> str | None:
    """The scoring model's preferred local send hour per customer, when that table exists."""
    if not table_exists(con, SEND_HOURS_TABLE):
        return None
    columns = table_columns(con, SEND_HOURS_TABLE)
    if not {"customer_id", "preferred_local_hour"} <= set(columns):
        notes.append(f"{SEND_HOURS_TABLE} lacks customer_id/preferred_local_hour; using the features' hour")
        return None
    # A table keeping history is read as of D (latest on or before D); one row per customer either way.
    dated = next((c for c in ("run_date", "as_of_date", "scored_at") if c in columns), None)
    where = f"where cast({dated} as date) <= {_date(run_date)}" if dated else ""
    order = f"{dated} desc, " if dated else ""
    return f"""
        select cast(customer_id as varchar) as customer_id,
               cast(preferred_local_hour as integer) as preferred_local_hour
        from {SEND_HOURS_TABLE}
        {where}
        qualify row_number() over (
            partition by customer_id
            order by {order}(preferred_local_hour is null), preferred_local_hour
        ) = 1"""


def _guardrails_sql(con: duckdb.DuckDBPyConnection, run_date: date, notes: list[str]) -> str:
    """Campaigns a measurement guardrail has paused on D: the latest row on or before D decides.

    A pause therefore lasts until a later row says `paused = false` (a NULL
    `paused` counts as paused); a table written once per day reads the same way.
    """
    empty = "select null::varchar as campaign_id where false"
    if not table_exists(con, GUARDRAILS_TABLE):
        return empty
    columns = table_columns(con, GUARDRAILS_TABLE)
    missing = [c for c in ("campaign_id", "run_date", "paused") if c not in columns]
    if missing:
        # Guessing would either stop every campaign or ignore a pause: refuse loudly instead.
        raise PolicyError(f"{GUARDRAILS_TABLE} lacks column(s) {', '.join(missing)}")
    reason = "cast(reason as varchar)" if "reason" in columns else "null::varchar"
    latest = f"""
        select cast(campaign_id as varchar) as campaign_id, {reason} as reason
        from {GUARDRAILS_TABLE}
        where cast(run_date as date) <= {_date(run_date)}
        qualify row_number() over (
            partition by campaign_id order by run_date desc, coalesce(paused, true) desc
        ) = 1 and coalesce(paused, true)"""
    for campaign_id, why in con.execute(f"select * from ({latest}) order by 1").fetchall():
        notes.append(f"campaign {campaign_id} paused by a guardrail: {why or 'no reason given'}")
    return f"select campaign_id from ({latest})"


def _history_sql(
    con: duckdb.DuckDBPyConnection, run_date: date, lookback_days: int, states: list[str]
) -> str:
    """Messages of earlier runs: ledger sends plus held-out winners (as if they had been sent)."""
    low, high = f"{_date(run_date)} - {lookback_days}", _date(run_date)
    parts: list[str] = []
    if table_exists(con, SENDS_TABLE):
        columns = table_columns(con, SENDS_TABLE)
        missing = [
            c for c in ("send_id", "run_date", "customer_id", "campaign_id", "state") if c not in columns
        ]
        if missing:
            # Fail closed: without a usable history caps and cooldowns cannot be enforced.
            raise PolicyError(f"{SENDS_TABLE} lacks column(s) {', '.join(missing)}")
        reached = "cast(accepted_at as timestamptz)" if "accepted_at" in columns else "null::timestamptz"
        state_list = ", ".join(sql_literal(s) for s in states) or "null"
        parts.append(f"""
            select cast(send_id as varchar) as send_id, cast(customer_id as varchar) as customer_id,
                   cast(campaign_id as varchar) as campaign_id, cast(run_date as date) as run_date,
                   {reached} as reached_at
            from {SENDS_TABLE}
            where state in ({state_list})
              and cast(run_date as date) >= {low} and cast(run_date as date) < {high}""")
    if table_exists(con, LIST_TABLE):
        parts.append(f"""
            select send_id, customer_id, campaign_id, run_date, scheduled_send_at_utc as reached_at
            from {LIST_TABLE}
            where arm = 'holdout' and run_date >= {low} and run_date < {high}""")
    if not parts:
        return (
            "select null::varchar as send_id, null::varchar as customer_id, null::varchar as campaign_id,"
            " null::date as run_date, null::timestamptz as reached_at where false"
        )
    return "\nunion all\n".join(parts)


def _paused_sql(
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
    if not table_exists(con, RESPONSES_TABLE):
        raise PolicyError(
            f"{RESPONSES_TABLE} does not exist; build the dbt models for {run_date} first "
            "(or set response_pause_days to 0 to turn the pause after a response off)"
        )
    missing = [c for c in REQUIRED_RESPONSE_COLUMNS if c not in table_columns(con, RESPONSES_TABLE)]
    if missing:
        raise PolicyError(f"{RESPONSES_TABLE} lacks column(s) {', '.join(missing)}")
    campaign_ids = ", ".join(sql_literal(c.id) for c in campaigns) or "null"
    return f"""
        select distinct cast(customer_id as varchar) as customer_id
        from {RESPONSES_TABLE}
        where campaign_id in ({campaign_ids})
          and cast(responded_at as date) > {_date(run_date)} - {days}
          and cast(responded_at as date) <= {_date(run_date)}"""


# --- candidates ------------------------------------------------------------------------


def _variant_sql(campaign: Campaign, salt: str) -> str:
    """Pick a variant by cumulative weight from a hash of (salt, customer, campaign)."""
    draw = bucket_sql(sql_literal(salt), "'variant'", "customer_id", sql_literal(campaign.id))
    total = sum(v.weight for v in campaign.variants)
    cases, running = [], 0.0
    for variant in campaign.variants[:-1]:
        running += variant.weight
        cases.append(f"when {draw} < {running / total!r} then {sql_literal(variant.name)}")
    last = sql_literal(campaign.variants[-1].name)
    return f"case {' '.join(cases)} else {last} end" if cases else last


def variant_case_sql(campaigns: Sequence[Campaign], salt: str) -> str:
    """SQL for the variant of a (customer_id, campaign_id) row; evaluated for winners only (md5 costs)."""
    cases = [f"when {sql_literal(c.id)} then {_variant_sql(c, salt)}" for c in campaigns if c.enabled]
    return f"case campaign_id {' '.join(cases)} end" if cases else "null::varchar"


def candidates_sql(campaigns: Sequence[Campaign], salt: str) -> str:
    """One row per (customer, enabled campaign) whose trigger and audience hold."""
    selects = [
        f"""
        select customer_id,
               {sql_literal(c.id)} as campaign_id,
               {c.priority} as priority,
               {c.holdout_share!r} as holdout_share,
               {c.cooldown_days} as cooldown_days
        from base
        where ({trigger_sql(c.trigger)}) and ({audience_sql(c.audience)})"""
        for c in campaigns
        if c.enabled
    ]
    if not selects:
        return (
            "select null::varchar as customer_id, null::varchar as campaign_id,"
            " null::integer as priority, null::double as holdout_share,"
            " null::integer as cooldown_days where false"
        )
    return "\nunion all\n".join(selects)


def base_sql(
    con: duckdb.DuckDBPyConnection, run_date: date, config: PolicyConfig, notes: list[str] | None = None
) -> str:
    """Features as of D with the churn score, a valid IANA send zone and a match key for the email."""
    features = _features_sql(con, run_date)  # checks the table first
    columns = table_columns(con, FEATURES_TABLE)
    shadowed = [c for c in ("churn_probability", "send_timezone", "email_key") if c in columns]
    exclude = f" exclude ({', '.join(shadowed)})" if shadowed else ""
    hours = _send_hours_sql(con, run_date, notes if notes is not None else [])
    replace = "cast(f.customer_id as varchar) as customer_id"
    join_hours = ""
    if hours:
        # The scoring model's hour wins; the features' own hour is the fallback.
        valid = "case when h.preferred_local_hour between 0 and 23 then h.preferred_local_hour end"
        replace += f", cast(coalesce({valid}, f.preferred_local_hour) as integer) as preferred_local_hour"
        join_hours = f"\nleft join ({hours}) h on h.customer_id = cast(f.customer_id as varchar)"
    return f"""
with
features as ({features}),
scores as ({_scores_sql(con, run_date)}),
zones as (
    -- Matched case-insensitively; unknown or missing zones fall back to the configured default.
    select lower(name) as zone_key, min(name) as zone from pg_timezone_names() group by 1
)
select f.*{exclude} replace ({replace}),
       s.churn_probability,
       coalesce(z.zone, {sql_literal(config.default_timezone)}) as send_timezone,
       nullif(lower(trim(f.email)), '') as email_key
from features f
left join scores s on s.customer_id = cast(f.customer_id as varchar)
left join zones z on z.zone_key = lower(trim(f.timezone)){join_hours}"""


def decisions_sql(
    con: duckdb.DuckDBPyConnection,
    run_date: date,
    campaigns: Sequence[Campaign],
    config: PolicyConfig,
    notes: list[str],
) -> str:
    """The whole decision as one query (one row per candidate, work columns included)."""
    d = _date(run_date)
    lookback = max([7, *(c.cooldown_days for c in campaigns if c.enabled)])
    salt = sql_literal(config.salt)
    suppressions = f"""
        select lower(trim(s.email)) as email_key,
               arg_min(coalesce(nullif(regexp_replace(lower(trim(s.suppression_reason)),
                                                       '[^a-z0-9]+', '_', 'g'), ''),
                                'unspecified'),
                       s.first_suppressed_at) as reason
        from {SUPPRESSIONS_TABLE} as s
        where s.email is not null
        group by 1"""
    return f"""
with
base as (select * from {BASE_TABLE}),
suppressions as ({suppressions}),
sends as ({_history_sql(con, run_date, lookback, config.counted_send_states)}),
history as (
    select h.customer_id, h.campaign_id, h.run_date,
           coalesce(cast(timezone(b.send_timezone, h.reached_at) as date), h.run_date) as local_day
    from sends h
    left join base b on b.customer_id = h.customer_id
    qualify row_number() over (partition by h.send_id order by h.reached_at nulls last) = 1
),
caps as (
    select customer_id,
           count(*) filter (where local_day = {d}) as sent_today,
           count(*) filter (where local_day between {d} - 6 and {d}) as sent_week
    from history
    group by 1
),
last_sent as (
    select customer_id, campaign_id, max(run_date) as last_run_date from history group by 1, 2
),
paused as ({_paused_sql(con, run_date, config.response_pause_days, campaigns, notes)}),
guardrails as ({_guardrails_sql(con, run_date, notes)}),
candidates as ({candidates_sql(campaigns, config.salt)}),
checked as (
    select c.*,
           b.churn_probability,
           case
               when b.consent_status = '{CONSENT_WITHDRAWN}' then 'suppressed:no_consent'
               when b.consent_status is distinct from '{CONSENT_GRANTED}' then 'suppressed:unverified_profile'
               when s.reason is not null then 'suppressed:' || s.reason
               when b.email_key is null then 'suppressed:missing_email'
               when not regexp_full_match(b.email_key, '{EMAIL_PATTERN}') then 'suppressed:invalid_email'
               when {bucket_sql(salt, "'global'", "c.customer_id")} < {config.global_holdout_share!r}
                   then 'global_holdout'
               when g.campaign_id is not null then 'campaign_paused'
               when coalesce(k.sent_today, 0) >= {config.max_per_day}
                 or coalesce(k.sent_week, 0) >= {config.max_per_week} then 'frequency_cap'
               when l.last_run_date > {d} - c.cooldown_days then 'cooldown'
               when p.customer_id is not null then 'paused_after_response'
           end as blocked_reason
    from candidates c
    join base b on b.customer_id = c.customer_id
    left join suppressions s on s.email_key = b.email_key
    left join caps k on k.customer_id = c.customer_id
    left join last_sent l on l.customer_id = c.customer_id and l.campaign_id = c.campaign_id
    left join paused p on p.customer_id = c.customer_id
    left join guardrails g on g.campaign_id = c.campaign_id
),
ranked as (
    select *,
           row_number() over (
               partition by customer_id, blocked_reason is null
               order by priority, churn_probability desc nulls last, campaign_id
           ) as rank_in_user
    from checked
),
final as (
    select {d} as run_date,
           customer_id,
           campaign_id,
           coalesce(
               blocked_reason,
               case when rank_in_user > 1 then 'lower_priority'
                    -- Hashed only for the day's winners: the holdout is drawn among them.
                    when {bucket_sql(salt, "'holdout'", "customer_id", "campaign_id")} < holdout_share
                        then 'campaign_holdout'
                    else 'chosen' end
           ) as reason,
           priority,
           churn_probability
    from ranked
),
with_variant as (
    select *,
           case when reason in ('chosen', 'campaign_holdout')
                then {variant_case_sql(campaigns, config.salt)} end as variant
    from final
)
select run_date,
       customer_id,
       campaign_id,
       case when reason = 'campaign_holdout' then 'holdout' else split_part(reason, ':', 1) end as outcome,
       reason,
       priority,
       churn_probability,
       variant,
       case when reason = 'chosen' then 'treatment' when reason = 'campaign_holdout' then 'holdout' end as arm
from with_variant"""


# --- messages --------------------------------------------------------------------------

CHOSEN_TABLE = "_interventions_chosen"
RENDERED_VIEW = "_interventions_rendered"


def _materialise_chosen(
    con: duckdb.DuckDBPyConnection, run_date: date, now: datetime, config: PolicyConfig
) -> None:
    """Chosen rows (both arms) with every features column, send id and scheduled time."""
    decision_columns = {c for c, *_ in con.execute(f"describe {DECISIONS_WORK_TABLE}").fetchall()}
    shadowed = sorted((decision_columns | {"email"}) & set(table_columns(con, BASE_TABLE)))
    scheduled = scheduled_utc_sql(
        "send_timezone", "preferred_local_hour", _date(run_date), _instant(now), config.window()
    )
    # The send time is a function of (zone, preferred hour) only: computed once per distinct pair
    # (a few hundred) instead of once per message, then joined back.
    con.execute(f"""
        create or replace temp table {CHOSEN_TABLE} as
        with chosen as (
            select d.*, trim(b.email) as email, b.* exclude ({", ".join(shadowed)}),
                   {send_id_sql("d.customer_id", "d.campaign_id", "d.run_date")} as send_id
            from {DECISIONS_WORK_TABLE} d
            join {BASE_TABLE} b on b.customer_id = d.customer_id
            where d.arm is not null
        ),
        slots as (
            select send_timezone, preferred_local_hour, {scheduled} as scheduled_send_at_utc
            from (select distinct send_timezone, preferred_local_hour from chosen)
        ),
        local_slots as (
            select *, {local_text_sql("send_timezone", "scheduled_send_at_utc")} as scheduled_send_at_local
            from slots
        )
        select c.*, s.scheduled_send_at_utc, s.scheduled_send_at_local
        from chosen c
        join local_slots s
          on s.send_timezone = c.send_timezone
         and coalesce(s.preferred_local_hour, -1) = coalesce(c.preferred_local_hour, -1)""")


# --- the run ---------------------------------------------------------------------------


def decide(
    con: duckdb.DuckDBPyConnection,
    run_date: date,
    campaigns: Sequence[Campaign],
    config: PolicyConfig | None = None,
    notes: list[str] | None = None,
) -> duckdb.DuckDBPyRelation:
    """Compute every decision into a temp table without writing the warehouse (dry runs use this)."""
    config = config or PolicyConfig()
    config.check(con)
    notes = notes if notes is not None else []
    con.execute("set timezone = 'UTC'")
    if not table_exists(con, SUPPRESSIONS_TABLE):
        # Fail closed: without the suppression list nobody may be mailed.
        raise PolicyError(f"{SUPPRESSIONS_TABLE} does not exist; refusing to decide without suppressions")
    con.execute(f"create or replace temp table {BASE_TABLE} as {base_sql(con, run_date, config, notes)}")
    sql = decisions_sql(con, run_date, campaigns, config, notes)
    con.execute(f"create or replace temp table {DECISIONS_WORK_TABLE} as {sql}")
    return con.table(DECISIONS_WORK_TABLE)


def run_policy(
    con: duckdb.DuckDBPyConnection,
    run_date: date,
    campaigns: Sequence[Campaign],
    config: PolicyConfig | None = None,
    now: datetime | None = None,
) -> PolicyRun:
    """Decide, render and schedule the run date's messages and replace its rows in one transaction."""
    config = config or PolicyConfig()
    now = now or datetime.now(UTC)
    notes: list[str] = []
    decide(con, run_date, campaigns, config, notes)
    _materialise_chosen(con, run_date, now, config)

    failures = _render(con, campaigns)
    if failures:
        _record_render_failures(con, failures)
        notes.append(f"{len(failures)} message(s) failed to render and were not listed")
    _write(con, run_date)
    return _summarise(con, run_date, campaigns, notes)


REPRESENTATIVES_TABLE = "_interventions_representatives"


def _render(con: duckdb.DuckDBPyConnection, campaigns: Sequence[Campaign]) -> list[tuple[str, str, str]]:
    """Render each distinct message once and give every chosen row its group's result.

    A message is a function of (campaign, variant, arm, the row columns its
    templates and data mapping read): rows equal on those form a group (SQL
    partition semantics: NULLs equal), the group's smallest send id is
    rendered in Python by the same code as ever, and the result is copied to
    the group in SQL. Templates that read a per-row value (`send_id`, say) or
    an impure global simply form one group per row. Fills RENDERED_VIEW and
    returns (customer_id, campaign_id, error) for every row whose group failed.
    """
    available = table_columns(con, CHOSEN_TABLE)
    parts = []
    for (campaign_id, variant), plan in plans(campaigns).items():
        keys = sorted((set(plan.reads) | set(plan.data_columns.values())) & set(available))
        if not plan.cacheable:
            keys = sorted({*keys, "send_id"})
        partition = ", ".join(["arm", *(f'"{k}"' for k in keys)])
        parts.append(f"""
            select send_id, min(send_id) over (partition by {partition}) as representative
            from {CHOSEN_TABLE}
            where campaign_id = {sql_literal(campaign_id)} and variant = {sql_literal(variant)}""")
    empty = "select null::varchar as send_id, null::varchar as representative where false"
    con.execute(
        f"create or replace temp table {REPRESENTATIVES_TABLE} as {' union all '.join(parts) or empty}"
    )
    wanted = columns_needed(campaigns, available)
    cursor = con.execute(f"""
        select {", ".join(f'c."{w}"' for w in wanted)}
        from {CHOSEN_TABLE} c
        where c.send_id in (select representative from {REPRESENTATIVES_TABLE})""")
    rows = (dict(zip(wanted, values, strict=True)) for values in cursor.fetchall())
    messages, failed = render_messages(rows, campaigns)
    con.register("_interventions_rendered_representatives", messages)
    try:
        con.execute(f"""
            create or replace temp table {RENDERED_VIEW} as
            select r.send_id, m.template_id, m.subject, m.body, m.template_data
            from {REPRESENTATIVES_TABLE} r
            join _interventions_rendered_representatives m on m.send_id = r.representative""")
    finally:
        con.unregister("_interventions_rendered_representatives")
    if not failed:
        return []
    frame = pa.Table.from_pylist(
        [{"customer_id": c, "campaign_id": k, "error": e} for c, k, e in failed],
        schema=pa.schema(
            [("customer_id", pa.string()), ("campaign_id", pa.string()), ("error", pa.string())]
        ),
    )
    con.register("_interventions_failed_representatives", frame)
    try:
        return con.execute(f"""
            select c.customer_id, c.campaign_id, f.error
            from _interventions_failed_representatives f
            join {CHOSEN_TABLE} rep on rep.customer_id = f.customer_id and rep.campaign_id = f.campaign_id
            join {REPRESENTATIVES_TABLE} r on r.representative = rep.send_id
            join {CHOSEN_TABLE} c on c.send_id = r.send_id
            order by c.campaign_id, c.customer_id""").fetchall()
    finally:
        con.unregister("_interventions_failed_representatives")


def _record_render_failures(con: duckdb.DuckDBPyConnection, failures: list[tuple[str, str, str]]) -> None:
    """A template that breaks on one user's data must not stop everyone else's messages."""
    frame = pa.Table.from_pylist(
        [{"customer_id": c, "campaign_id": k, "error": e} for c, k, e in failures],
        schema=pa.schema(
            [("customer_id", pa.string()), ("campaign_id", pa.string()), ("error", pa.string())]
        ),
    )
    con.register("_interventions_render_failures", frame)
    try:
        con.execute(f"""
            update {DECISIONS_WORK_TABLE} d
            set outcome = 'render_error', reason = 'render_error:' || f.error, arm = null
            from _interventions_render_failures f
            where d.customer_id = f.customer_id and d.campaign_id = f.campaign_id""")
    finally:
        con.unregister("_interventions_render_failures")


def _write(con: duckdb.DuckDBPyConnection, run_date: date) -> None:
    """Replace the run date's decisions and list together, or neither."""
    d = _date(run_date)
    con.execute("begin transaction")
    try:
        con.execute("create schema if not exists interventions")
        con.execute(DECISIONS_DDL)
        con.execute(LIST_DDL)
        con.execute(f"delete from {DECISIONS_TABLE} where run_date = {d}")
        con.execute(f"""
            insert into {DECISIONS_TABLE}
            select run_date, customer_id, campaign_id, outcome, reason, priority, churn_probability
            from {DECISIONS_WORK_TABLE}
            order by campaign_id, customer_id""")
        con.execute(f"delete from {LIST_TABLE} where run_date = {d}")
        con.execute(f"""
            insert into {LIST_TABLE}
            select c.send_id, c.run_date, c.customer_id, c.email, c.first_name, c.send_timezone,
                   c.campaign_id, c.variant, c.arm, m.template_id, m.subject, m.body, m.template_data,
                   c.scheduled_send_at_utc, c.scheduled_send_at_local, c.priority, c.churn_probability
            from {CHOSEN_TABLE} c
            join {RENDERED_VIEW} m on m.send_id = c.send_id
            order by c.campaign_id, c.customer_id""")
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def _summarise(
    con: duckdb.DuckDBPyConnection, run_date: date, campaigns: Sequence[Campaign], notes: list[str]
) -> PolicyRun:
    counts = con.execute(f"""
        select campaign_id, outcome, reason, count(*) as n
        from {DECISIONS_WORK_TABLE}
        group by all
        order by campaign_id, reason""").df()
    arms = dict(
        con.execute(
            f"select arm, count(*) from {LIST_TABLE} where run_date = {_date(run_date)} group by 1"
        ).fetchall()
    )
    unverified = con.execute(f"""
        select count(*) from {BASE_TABLE}
        where consent_status is distinct from '{CONSENT_GRANTED}'
          and consent_status is distinct from '{CONSENT_WITHDRAWN}'""").fetchone()[0]
    if unverified:
        notes.append(
            f"{unverified} customer(s) not mailed as unverified_profile: their newest CRM row was refused "
            "at ingest (marts.fct_user_features.consent_status; int_customer_consent says why)"
        )
    return PolicyRun(
        run_date=run_date,
        campaigns=[c.id for c in campaigns if c.enabled],
        candidates=int(counts["n"].sum()) if len(counts) else 0,
        list_rows=int(sum(arms.values())),
        treatment=int(arms.get("treatment", 0)),
        holdout=int(arms.get("holdout", 0)),
        counts=counts,
        notes=notes,
        unverified_profiles=int(unverified),
    )
