"""The day's listed rows before rendering: every chosen row (both arms) with its send id and send time."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime

import duckdb

from reengage.channels import CHANNELS, Channel
from reengage.defs.interventions.policy.config import PolicyConfig
from reengage.defs.interventions.policy.decisions import BASE_TABLE, DECISIONS_WORK_TABLE
from reengage.defs.interventions.policy.inputs import table_columns
from reengage.defs.interventions.policy.sql import date_literal, instant_literal
from reengage.defs.interventions.predicates import sql_literal
from reengage.defs.interventions.scheduling import (
    SendWindow,
    local_text_sql,
    preferred_utc_sql,
    scheduled_utc_sql,
)
from reengage.schema.declared import DECISIONS
from reengage.send_ids import send_id_sql
from reengage.tables import column_types

CHOSEN_TABLE = "_interventions_chosen"
SLOTS_TABLE = "_interventions_send_slots"


def send_window(channel: Channel, config: PolicyConfig) -> SendWindow:
    """The local hours a channel's messages may go out in: its own quiet hours, or the policy's window."""
    if channel.quiet_hours is None:
        return config.window()
    start, end = channel.quiet_hours
    return SendWindow(start, end, config.default_local_hour)


def scheduled_by_channel_sql(
    run_date: date, now: datetime, config: PolicyConfig, channels: Mapping[str, Channel]
) -> str:
    """SQL (over send_timezone, preferred_local_hour, channel): the send instant in the channel's hours."""
    return _by_channel(
        channels,
        lambda channel: scheduled_utc_sql(
            "send_timezone",
            "preferred_local_hour",
            date_literal(run_date),
            instant_literal(now),
            send_window(channel, config),
        ),
        "null::timestamptz",
    )


def hour_passed_by_channel_sql(
    run_date: date, now: datetime, config: PolicyConfig, channels: Mapping[str, Channel]
) -> str:
    """SQL (same columns): whether the preferred hour in the channel's hours is already past `now`."""
    return _by_channel(
        channels,
        lambda channel: (
            preferred_utc_sql(
                "send_timezone", "preferred_local_hour", date_literal(run_date), send_window(channel, config)
            )
            + f" < {instant_literal(now)}"
        ),
        "false",
    )


def _by_channel(channels: Mapping[str, Channel], expression: Callable[[Channel], str], default: str) -> str:
    cases = " ".join(
        f"when {sql_literal(name)} then {expression(channel)}" for name, channel in channels.items()
    )
    return f"case channel {cases} end" if cases else default


def materialise_chosen(
    con: duckdb.DuckDBPyConnection,
    run_date: date,
    now: datetime,
    config: PolicyConfig,
    channels: Mapping[str, Channel] = CHANNELS,
) -> None:
    """Chosen rows (both arms) with every features column, send id and scheduled time, in CHOSEN_TABLE.

    Every decision that chance could have sent (treatment_probability above 0) gets the time its
    message went or would have gone, in the decisions work table: a row's outcome is then counted
    from the same clock whichever way its draws fell. Each channel keeps its own quiet hours.
    """
    decision_columns = set(table_columns(con, DECISIONS_WORK_TABLE))
    shadowed = sorted((decision_columns | {"email"}) & set(table_columns(con, BASE_TABLE)))
    used = {
        name for (name,) in con.execute(f"select distinct channel from {DECISIONS_WORK_TABLE}").fetchall()
    }
    channels_used = {name: ch for name, ch in channels.items() if name in used}
    scheduled = scheduled_by_channel_sql(run_date, now, config, channels_used)
    hour_passed = hour_passed_by_channel_sql(run_date, now, config, channels_used)
    # The send time is a function of (zone, preferred hour, channel) only: computed once per distinct
    # triple (a few hundred) instead of once per message, then joined back.
    con.execute(f"""
        create or replace temp table {SLOTS_TABLE} as
        with slots as (
            select send_timezone, preferred_local_hour, channel, {scheduled} as scheduled_send_at_utc,
                   {hour_passed} as hour_passed
            from (
                select distinct b.send_timezone, b.preferred_local_hour, d.channel
                from {DECISIONS_WORK_TABLE} d
                join {BASE_TABLE} b on b.customer_id = d.customer_id
                where d.treatment_probability > 0
            )
        )
        select *, {local_text_sql("send_timezone", "scheduled_send_at_utc")} as scheduled_send_at_local
        from slots""")
    slot_of = f"""join {BASE_TABLE} b on b.customer_id = d.customer_id
        {{kind}} join {SLOTS_TABLE} s
          on s.send_timezone = b.send_timezone
         and coalesce(s.preferred_local_hour, -1) = coalesce(b.preferred_local_hour, -1)
         and s.channel = d.channel
         and d.treatment_probability > 0"""
    # Once the preferred hour has passed, a rerun of the day keeps the time an earlier run stored
    # for the same decision instead of moving it to the rerun's "now": a message the provider
    # already has keeps the clock its outcome (and its held-out twin's) is counted from.
    stored = (
        f"""left join (
            select customer_id, campaign_id, channel, min(scheduled_send_at_utc) as scheduled_send_at_utc
            from {DECISIONS.name} where run_date = {date_literal(run_date)} group by all
        ) p on p.customer_id = d.customer_id and p.campaign_id = d.campaign_id and p.channel = d.channel"""
        if {"channel", "scheduled_send_at_utc"} <= set(column_types(con, DECISIONS.name))
        else ""  # a first run, or a table from before send times were recorded
    )
    kept = "p.scheduled_send_at_utc" if stored else "null::timestamptz"
    con.execute(f"""
        create or replace temp table {DECISIONS_WORK_TABLE} as
        select d.*,
               case when s.hour_passed and {kept} is not null then {kept}
                    else s.scheduled_send_at_utc end as scheduled_send_at_utc,
               coalesce(s.hour_passed and {kept} is not null, false) as _send_time_kept
        from {DECISIONS_WORK_TABLE} d
        {slot_of.format(kind="left")}
        {stored}""")
    con.execute(f"""
        create or replace temp table {CHOSEN_TABLE} as
        select d.* exclude (_send_time_kept), trim(b.email) as email, b.* exclude ({", ".join(shadowed)}),
               {send_id_sql("d.customer_id", "d.campaign_id", "d.run_date", "d.channel")} as send_id,
               case when d._send_time_kept
                    then {local_text_sql("b.send_timezone", "d.scheduled_send_at_utc")}
                    else s.scheduled_send_at_local end as scheduled_send_at_local
        from {DECISIONS_WORK_TABLE} d
        {slot_of.format(kind="inner")}
        where d.arm is not null""")
    con.execute(f"alter table {DECISIONS_WORK_TABLE} drop column _send_time_kept")
