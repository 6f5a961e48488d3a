"""Daily assignments and their messages per campaign, channel, variant and arm, for every run date up to D.

A row counts daily assignments (one per user, campaign and run date), so a user assigned on
several days counts on each: these are the operational counts, to check against the send
ledger, not experiment results. The experiment counts each user once per campaign, from their
first assignment (``outcomes`` and ``analysis``, tables ``campaign_summary`` and
``campaign_comparisons``). Outcomes keep arriving for days after a send (opens, late conversions), so each
run recomputes every run date so far; the clock for a held-out user is the same
scheduled send time a treated user got.

Each message is matched to its own channel's provider events by its send id: an email's SendGrid
events (delivered, open, click, unsubscribe), a text's Twilio status callbacks (delivered). A
text's unsubscribe is a STOP reply from its number within the campaign's attribution window (a
reply carries no send id). Opens and clicks do not exist for texts: a row of texts counts them as
null, never as zero.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

from reengage.defs.measurement.outcomes import channel_list
from reengage.schema.declared import CAMPAIGN_RESULTS, CAMPAIGN_SENDS, INTERVENTION_LIST
from reengage.schema.migrations import migrate, require, stored_or_empty
from reengage.tables import as_frame, relation_exists
from reengage.warehouse import transaction

RESULTS_SQL = """
with assigned as (
    select send_id, run_date, customer_id, campaign_id, channel, variant, arm, scheduled_send_at_utc,
           case when channel = 'sms' then trim(contact) end as phone_key
    from interventions.intervention_list
    where run_date <= $run_date
),
sends as (
    select send_id, state from {sends} as stored_sends
),
email as (
    select
        send_id,
        bool_or(event = 'delivered') as delivered,
        bool_or(event = 'open') as opened,
        bool_or(event = 'click') as clicked,
        bool_or(event in ('unsubscribe', 'group_unsubscribe')) as unsubscribed
    from {email_events} as email_events
    where send_id is not null
    group by send_id
),
texts as (
    -- Twilio's status callbacks carry the send id; a text has no open or click (null, not false)
    select
        send_id,
        bool_or(message_status = 'delivered') as delivered,
        null::boolean as opened,
        null::boolean as clicked
    from {sms_events} as sms_events
    where send_id is not null
    group by send_id
),
stops as (
    -- a STOP reply is the text's unsubscribe: from its number, within the campaign's window
    select a.send_id
    from assigned as a
    inner join campaign_targets as t on t.campaign_id = a.campaign_id
    inner join {sms_events} as e
        on e.phone = a.phone_key
        and e.is_opt_out
        -- event_at is naive UTC: compare it with the send time as naive UTC too
        and e.event_at > timezone('UTC', a.scheduled_send_at_utc)
        and e.event_at <= timezone('UTC', a.scheduled_send_at_utc) + to_days(t.attribution_window_days)
    group by a.send_id
),
conversions as (
    select a.send_id
    from assigned as a
    inner join campaign_targets as t on t.campaign_id = a.campaign_id
    inner join intermediate.int_events_stitched as e
        on e.customer_id = a.customer_id
        and e.event_name = t.target_event
        and e.event_ts > a.scheduled_send_at_utc
        and e.event_ts <= a.scheduled_send_at_utc + to_days(t.attribution_window_days)
    group by a.send_id
),
per_user as (
    select
        a.run_date, a.campaign_id, a.channel, a.variant, a.arm,
        coalesce(s.state = 'accepted', false) as sent,
        coalesce(m.delivered, x.delivered, false) as delivered,
        -- null on a channel whose provider cannot tell: counted as null, never as zero
        case when a.channel in ({opens_channels}) then coalesce(m.opened, false) end as opened,
        case when a.channel in ({opens_channels}) then coalesce(m.clicked, false) end as clicked,
        coalesce(m.unsubscribed, false) or stop.send_id is not null as unsubscribed,
        c.send_id is not null as converted
    from assigned as a
    left join sends as s on s.send_id = a.send_id
    left join email as m on m.send_id = a.send_id and a.channel = 'email'
    left join texts as x on x.send_id = a.send_id and a.channel = 'sms'
    left join stops as stop on stop.send_id = a.send_id
    left join conversions as c on c.send_id = a.send_id
)
select
    run_date, campaign_id, channel, variant, arm,
    count(*) as assigned,
    count(*) filter (where sent) as sent,
    count(*) filter (where delivered) as delivered,
    case when count(opened) > 0 then count(*) filter (where opened) end as opened,
    case when count(clicked) > 0 then count(*) filter (where clicked) end as clicked,
    count(*) filter (where unsubscribed) as unsubscribed,
    count(*) filter (where converted) as converted,
    count(*) filter (where clicked)
        / nullif(count(*) filter (where delivered and clicked is not null), 0) as click_rate,
    count(*) filter (where converted) / count(*) as conversion_rate,
    now() as computed_at
from per_user
group by all
order by run_date, campaign_id, channel, variant, arm
"""

# What the results read of the day's lists.
LIST_COLUMNS = (
    "send_id",
    "run_date",
    "customer_id",
    "campaign_id",
    "channel",
    "variant",
    "arm",
    "scheduled_send_at_utc",
)


def compute_campaign_results(
    con: duckdb.DuckDBPyConnection, run_date: date, targets: pd.DataFrame
) -> pd.DataFrame:
    """`targets`: campaign_id, target_event, attribution_window_days (from the campaign files)."""
    if not _assigned_by(con, run_date):
        # Nothing has been assigned yet (e.g. a backfill before the first daily run): no results.
        return as_frame(con.execute(CAMPAIGN_RESULTS.empty_select()))
    con.register("campaign_targets", targets)
    sql = (
        RESULTS_SQL.replace("{sends}", stored_or_empty(con, CAMPAIGN_SENDS))
        .replace("{email_events}", _events_or_empty(con, "staging.stg_sendgrid__email_events", EMAIL_EVENTS))
        .replace("{sms_events}", _events_or_empty(con, "staging.stg_twilio__sms_events", SMS_EVENTS))
        .replace("{opens_channels}", channel_list(lambda c: c.reports_opens_and_clicks))
    )
    try:
        return as_frame(con.execute(sql, {"run_date": run_date}))
    finally:
        con.unregister("campaign_targets")


# What the results read of each channel's staged provider events, and their types when a
# warehouse has no such model yet (no dbt build since the channel was added).
EMAIL_EVENTS = {"send_id": "varchar", "event": "varchar"}
SMS_EVENTS = {"send_id": "varchar", "phone": "varchar", "message_status": "varchar",
              "is_opt_out": "boolean", "event_at": "timestamp"}  # fmt: skip


def _events_or_empty(con: duckdb.DuckDBPyConnection, model: str, columns: dict[str, str]) -> str:
    if relation_exists(con, model):
        return model
    nulls = ", ".join(f"null::{kind} as {name}" for name, kind in columns.items())
    return f"(select {nulls} where false)"


def _assigned_by(con: duckdb.DuckDBPyConnection, run_date: date) -> bool:
    """Whether the list holds a row on or before `run_date` (a migrated warehouse has it, maybe empty)."""
    require(con, INTERVENTION_LIST, LIST_COLUMNS)
    sql = f"select exists (select 1 from {INTERVENTION_LIST.name} where run_date <= ?)"
    return bool(con.execute(sql, [run_date]).fetchone()[0])


def write_campaign_results(con: duckdb.DuckDBPyConnection, results: pd.DataFrame) -> None:
    """Replace the whole results table in one transaction (every run date is recomputed)."""
    migrate(con)
    con.register("new_results", results)
    try:
        with transaction(con):
            con.execute("delete from measurement.campaign_results")
            con.execute("insert into measurement.campaign_results by name select * from new_results")
    finally:
        con.unregister("new_results")
