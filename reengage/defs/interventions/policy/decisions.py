"""Every decision of D computed in the warehouse, written nowhere but to temp tables.

`decide` builds two temp tables: BASE_TABLE, the features of D with what every
check reads, and DECISIONS_WORK_TABLE, one row per candidate with its reason,
from the query in decisions.sql. The Python here generates only what depends on
the campaign files and settings (candidates, variants, hash draws) and hands it
to that query by name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

import duckdb

from reengage.channels import CHANNELS, Channel, channel
from reengage.defs.delivery.ledger import COUNTED_STATES
from reengage.defs.interventions.campaigns import Campaign
from reengage.defs.interventions.hashing import bucket_sql
from reengage.defs.interventions.policy.block_data import check_tables, empty_blocks_sql
from reengage.defs.interventions.policy.config import PolicyConfig
from reengage.defs.interventions.policy.inputs import (
    FEATURES_TABLE,
    churn_scores_exist,
    features_sql,
    guardrails_sql,
    history_sql,
    paused_sql,
    scored_campaigns,
    scores_sql,
    send_hours_sql,
    suppressions_sql,
    table_columns,
    uplift_scores_sql,
)
from reengage.defs.interventions.policy.sql import date_literal, fill_query
from reengage.defs.interventions.predicates import audience_sql, sql_literal, trigger_sql
from reengage.schema.migrations import migrate

BASE_TABLE = "_interventions_base"
DECISIONS_WORK_TABLE = "_interventions_decisions"

# The only consent_status that may be mailed (int_customer_consent); the policy names the others.
CONSENT_GRANTED = CHANNELS["email"].consent.granted_value
CONSENT_WITHDRAWN = CHANNELS["email"].consent.withdrawn_value


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


def variant_share_sql(campaigns: Sequence[Campaign]) -> str:
    """SQL for the share of its campaign's assignments the row's `variant` gets (its hash interval)."""
    cases = []
    for c in campaigns:
        if not c.enabled:
            continue
        total = sum(v.weight for v in c.variants)
        shares = " ".join(f"when {sql_literal(v.name)} then {v.weight / total!r}" for v in c.variants)
        cases.append(f"when {sql_literal(c.id)} then case variant {shares} end")
    return f"case campaign_id {' '.join(cases)} end" if cases else "null::double"


def targeting_sql(
    campaigns: Sequence[Campaign], scored: set[str], churn_scored: bool, notes: list[str]
) -> str:
    """One row per enabled campaign: the targeting it gets on D.

    A ranked campaign with nothing to rank by falls back to its trigger rules, drawing its daily
    budget among the users they select at random, and the run says so: an uplift campaign without
    predictions for D (no promoted uplift model yet: its cold start), a risk campaign before any
    churn score exists. Ranking nobody would send nothing; sending everyone the rules select would
    overrun a budget set for cost or for the audience's patience. A random draw keeps the budget
    and gives the first model days whose every assignment was randomized.
    """
    rows = []
    for c in campaigns:
        if not c.enabled:
            continue
        t = c.targeting
        mode = t.mode
        fallback = "targets by its trigger rules, its budget drawn at random"
        if mode == "uplift" and c.id not in scored:
            notes.append(
                f"campaign {c.id} {fallback}: uplift targeting has no promoted uplift model to predict "
                "with yet"
            )
            mode = "random"
        if mode == "risk" and not churn_scored:
            notes.append(f"campaign {c.id} {fallback}: risk targeting has no churn scores to rank by yet")
            mode = "random"
        values = (c.id, mode, t.budget_share, t.budget_sends, t.min_uplift, t.exploration_share)
        rows.append(_typed_row(values))
    columns = "campaign_id, mode, budget_share, budget_sends, min_uplift, exploration_share"
    if not rows:
        return f"select * from (values {_typed_row((None,) * 6)}) t({columns}) where false"
    return f"select * from (values {', '.join(rows)}) t({columns})"


def _typed_row(values: tuple[object, ...]) -> str:
    """(id, mode, four numbers) as a VALUES row whose numbers are doubles even when missing."""
    texts = [f"{sql_literal(v)}::varchar" for v in values[:2]] + [
        f"{sql_literal(v)}::double" for v in values[2:]
    ]
    return f"({', '.join(texts)})"


def campaign_channels(campaigns: Sequence[Campaign], channels: Mapping[str, Channel]) -> list[Channel]:
    """The channels the enabled campaigns name, each once, in the order first named."""
    names = dict.fromkeys(name for c in campaigns if c.enabled for name in c.channels)
    return [channel(name, channels) for name in names]


def candidates_sql(campaigns: Sequence[Campaign]) -> str:
    """One row per (customer, enabled campaign, channel of it) whose trigger and audience hold.

    `channel_rank` is the channel's place in the campaign's order of preference (1 first).
    """
    selects = []
    for c in campaigns:
        if not c.enabled:
            continue
        ranks = ", ".join(f"({sql_literal(name)}, {rank})" for rank, name in enumerate(c.channels, start=1))
        selects.append(f"""
        select customer_id,
               {sql_literal(c.id)} as campaign_id,
               ch.channel,
               ch.channel_rank,
               {c.priority} as priority,
               {c.holdout_share!r} as holdout_share,
               {c.cooldown_days} as cooldown_days
        from base
        cross join (values {ranks}) as ch(channel, channel_rank)
        where ({trigger_sql(c.trigger)}) and ({audience_sql(c.audience)})""")
    if not selects:
        return (
            "select null::varchar as customer_id, null::varchar as campaign_id, null::varchar as channel,"
            " null::integer as channel_rank, null::integer as priority, null::double as holdout_share,"
            " null::integer as cooldown_days where false"
        )
    return "\nunion all\n".join(selects)


def contacts_sql(channels: Sequence[Channel]) -> str:
    """One row per (customer, channel): the contact, its match key and the channel's consent status.

    Columns customer_id, channel, contact (trimmed, as sent), contact_key, consent_status,
    consent_granted, consent_withdrawn, contact_label.
    """
    selects = [
        f"""
        select customer_id,
               {sql_literal(ch.name)} as channel,
               trim(cast("{ch.contact_column}" as varchar)) as contact,
               {ch.contact_key_sql(f'cast("{ch.contact_column}" as varchar)')} as contact_key,
               cast("{ch.consent.status_column}" as varchar) as consent_status,
               {sql_literal(ch.consent.granted_value)} as consent_granted,
               {sql_literal(ch.consent.withdrawn_value)} as consent_withdrawn,
               {sql_literal(ch.contact_label)} as contact_label
        from base"""
        for ch in channels
    ]
    if not selects:
        columns = ("customer_id", "channel", "contact", "contact_key", "consent_status", "consent_granted",
                   "consent_withdrawn", "contact_label")  # fmt: skip
        return f"select {', '.join(f'null::varchar as {c}' for c in columns)} where false"
    return "\nunion all\n".join(selects)


def contact_valid_sql(channels: Sequence[Channel]) -> str:
    """SQL (over `k.channel`, `k.contact_key`): whether a contact key is one the channel can use."""
    cases = " ".join(
        f"when {sql_literal(ch.name)} then "
        f"regexp_full_match(k.contact_key, {sql_literal(ch.contact_pattern)})"
        for ch in channels
    )
    return f"case k.channel {cases} end" if cases else "false"


def channel_limits_sql(channels: Sequence[Channel], config: PolicyConfig) -> str:
    """One row per channel: its own caps and cooldown from the policy config (null: none)."""
    rows = [
        f"({sql_literal(ch.name)}::varchar, {sql_literal(config.channel_max_per_day.get(ch.name))}::integer, "
        f"{sql_literal(config.channel_max_per_week.get(ch.name))}::integer, "
        f"{sql_literal(config.channel_cooldown_days.get(ch.name))}::integer)"
        for ch in channels
    ]
    columns = "channel, max_per_day, max_per_week, cooldown_days"
    if not rows:
        empty = "(null::varchar, null::integer, null::integer, null::integer)"
        return f"select * from (values {empty}) t({columns}) where false"
    return f"select * from (values {', '.join(rows)}) t({columns})"


def base_sql(
    con: duckdb.DuckDBPyConnection, run_date: date, config: PolicyConfig, notes: list[str] | None = None
) -> str:
    """Features as of D with the churn score and a valid IANA send zone."""
    features = features_sql(con, run_date)  # checks the table first
    columns = table_columns(con, FEATURES_TABLE)
    shadowed = [c for c in ("churn_probability", "send_timezone") if c in columns]
    exclude = f" exclude ({', '.join(shadowed)})" if shadowed else ""
    # The scoring model's hour wins; the features' own hour is the fallback.
    valid = "case when h.preferred_local_hour between 0 and 23 then h.preferred_local_hour end"
    replace = (
        "cast(f.customer_id as varchar) as customer_id, "
        f"cast(coalesce({valid}, f.preferred_local_hour) as integer) as preferred_local_hour"
    )
    join_hours = (
        f"\nleft join ({send_hours_sql(con, run_date)}) h on h.customer_id = cast(f.customer_id as varchar)"
    )
    return f"""
with
features as ({features}),
scores as ({scores_sql(con, run_date)}),
zones as (
    -- Matched case-insensitively; unknown or missing zones fall back to the configured default.
    select lower(name) as zone_key, min(name) as zone from pg_timezone_names() group by 1
)
select f.*{exclude} replace ({replace}),
       s.churn_probability,
       coalesce(z.zone, {sql_literal(config.default_timezone)}) as send_timezone
from features f
left join scores s on s.customer_id = cast(f.customer_id as varchar)
left join zones z on z.zone_key = lower(trim(f.timezone)){join_hours}"""


def decisions_sql(
    con: duckdb.DuckDBPyConnection,
    run_date: date,
    campaigns: Sequence[Campaign],
    config: PolicyConfig,
    notes: list[str],
    suppressions: str,
    channels: Sequence[Channel],
) -> str:
    """The whole decision as one query (one row per candidate, work columns included).

    Reads BASE_TABLE; `suppressions` is the checked suppressions subquery (`suppressions_sql`) of
    `channels`, the channels the campaigns name.
    """
    channel_cooldowns = [config.channel_cooldown_days.get(ch.name) or 0 for ch in channels]
    lookback = max([7, *(c.cooldown_days for c in campaigns if c.enabled), *channel_cooldowns])
    salt = sql_literal(config.salt)
    return fill_query(
        "decisions.sql",
        run_date=date_literal(run_date),
        base_table=BASE_TABLE,
        suppressions=suppressions,
        sends=history_sql(con, run_date, lookback, COUNTED_STATES),
        paused=paused_sql(con, run_date, config.response_pause_days, campaigns, notes),
        guardrails=guardrails_sql(con, run_date, notes),
        candidates=candidates_sql(campaigns),
        contacts=contacts_sql(channels),
        contact_valid=contact_valid_sql(channels),
        channel_limits=channel_limits_sql(channels, config),
        global_holdout_draw=bucket_sql(salt, "'global'", "c.customer_id"),
        global_holdout_share=sql_literal(config.global_holdout_share),
        max_per_day=sql_literal(config.max_per_day),
        max_per_week=sql_literal(config.max_per_week),
        campaign_holdout_draw=bucket_sql(salt, "'holdout'", "r.customer_id", "r.campaign_id"),
        variant=variant_case_sql(campaigns, config.salt),
        variant_share=variant_share_sql(campaigns),
        uplift_scores=uplift_scores_sql(con, run_date),
        targeting=targeting_sql(
            campaigns, scored_campaigns(con, run_date), churn_scores_exist(con, run_date), notes
        ),
        exploration_draw=bucket_sql(
            salt, "'explore'", "r.customer_id", "r.campaign_id", date_literal(run_date)
        ),
        empty_blocks=empty_blocks_sql(campaigns, run_date),
    )


def decide(
    con: duckdb.DuckDBPyConnection,
    run_date: date,
    campaigns: Sequence[Campaign],
    config: PolicyConfig | None = None,
    notes: list[str] | None = None,
    channels: Mapping[str, Channel] = CHANNELS,
) -> duckdb.DuckDBPyRelation:
    """Compute every decision into a temp table without writing the warehouse (dry runs use this).

    A warehouse not at the declared schema (a bare connection to one an earlier version built)
    is migrated first, so every table the policy reads exists; a current one is only read.
    `channels` are the channels campaigns may name (the product's registry).
    """
    migrate(con)
    config = config or PolicyConfig()
    config.check(con, tuple(channels))
    notes = notes if notes is not None else []
    con.execute("set timezone = 'UTC'")
    used = campaign_channels(campaigns, channels)
    suppressions = suppressions_sql(con, used)  # first: without the suppression lists nothing else matters
    check_tables(con, campaigns, run_date)
    con.execute(f"create or replace temp table {BASE_TABLE} as {base_sql(con, run_date, config, notes)}")
    sql = decisions_sql(con, run_date, campaigns, config, notes, suppressions, used)
    con.execute(f"create or replace temp table {DECISIONS_WORK_TABLE} as {sql}")
    return con.table(DECISIONS_WORK_TABLE)
