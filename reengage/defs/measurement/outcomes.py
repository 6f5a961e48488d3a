"""One row per user and campaign (sent or held out): what they did within the attribution window.

The unit of analysis is the user, as in experimentation tools: a daily job assigns the same
user to the same campaign on many days (the holdout is a hash of user and campaign, so the
arm never changes), and held-out users come back more often than treated ones: no message to
them brings an unsubscribe, a bounce or a pause after a response. Each user enters a campaign's
experiment once, at their first assignment (intention to treat: arm and variant are the first
assignment's; later assignments neither restart nor extend the window). ``assignments`` counts
the daily rows they had, and ``send_id`` is the first one's.

The window opens at the first assignment's scheduled send time, for the holdout too (the
same clock), and closes ``attribution_window_days`` later. Message outcomes (sent, delivered,
opened, clicked, bounced, spam report) cover the campaign's messages to the user scheduled
within the window; an unsubscribe of the address and a target event count within the window.
A user is *matured* once their window closed before the end of the run date; comparisons use
matured users only, so an outcome never changes after it enters a test. Emails are read to
match unsubscribes but never written out.

Each message is matched to its own channel's provider events by its send id: an email's SendGrid
events, a text's Twilio status callbacks (delivered; undelivered or failed count as ``bounced``,
the text's failure). A text's unsubscribe is a STOP reply from the row's number within the
window (a reply carries no send id), for the holdout too: a held-out row names the channel and
contact the campaign would have used. A channel whose provider cannot tell an outcome leaves it
null, never false: a text's ``opened``, ``clicked`` and ``spam_reported``
(``Channel.reports_opens_and_clicks``, ``reports_spam``). Conversions are counted the same way
whatever the channel.

These are not the responses the policy pauses on (dbt's ``marts.fct_user_responses``),
which answer "did this person just respond" rather than "did the message work": there a
conversion is one event for every campaign (dbt var ``response_conversion_event``,
purchase) within one window (``response_conversion_window_days``, 7) from when the
message reached the customer (its first delivered, open or click record), only mailed
customers respond, and an unsubscribe counts only with the message's send_id. Here each
campaign's own ``target_event`` and ``attribution_window_days`` apply from the first
scheduled send time, to the held-out as well, and an unsubscribe of the address counts
whatever mail it came from.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import duckdb
import pandas as pd

from reengage.channels import CHANNELS, Channel
from reengage.defs.interventions.predicates import sql_literal
from reengage.event_catalog import revenue_sql
from reengage.schema.declared import ASSIGNMENT_OUTCOMES, CAMPAIGN_SENDS, INTERVENTION_LIST
from reengage.schema.migrations import require, stored_or_empty
from reengage.tables import as_frame, column_types, relation_exists, utc_naive_sql

OUTCOME_NAMES = ASSIGNMENT_OUTCOMES.names
# What the outcomes read of the day's lists (a migrated warehouse always has the table, empty
# before the first assignment).
LIST_COLUMNS = ("send_id", "run_date", "customer_id", "channel", "contact", "campaign_id", "variant", "arm",
                "scheduled_send_at_utc")  # fmt: skip

# Every user-level CTE is keyed by the first assignment's send_id (one per user and campaign).
OUTCOMES_SQL = """
with daily_rows as (
    select l.send_id, l.run_date, l.customer_id, l.campaign_id, l.channel, l.variant, l.arm,
           timezone('UTC', l.scheduled_send_at_utc) as scheduled_at,  -- timestamptz, as naive UTC
           -- the address email events name: only an email row has one
           case when l.channel = 'email' then lower(trim(l.contact)) end as email_key,
           -- the number a STOP reply comes from: only a text's row has one (a held-out row's too,
           -- the number the policy would have texted)
           case when l.channel = 'sms' then trim(l.contact) end as phone_key
    from interventions.intervention_list as l
    where l.run_date <= $run_date and l.arm in ('treatment', 'holdout')
),
first_assignment as (
    -- the user enters the campaign's experiment once, at their first assignment (intention to treat)
    select *, count(*) over (partition by customer_id, campaign_id) as assignments
    from daily_rows
    qualify row_number() over (
        partition by customer_id, campaign_id order by run_date, scheduled_at, send_id
    ) = 1
),
assigned as (
    select f.*,
           coalesce(t.target_event, 'purchase') as target_event,
           f.scheduled_at + to_days(coalesce(t.attribution_window_days, 7)::integer) as window_end_at
    from first_assignment as f
    left join campaign_targets as t on t.campaign_id = f.campaign_id
),
window_messages as (
    -- the campaign's messages to the user scheduled before their window closes, each matched
    -- below to its own channel's provider events
    select a.send_id, r.send_id as message_id, r.channel
    from assigned as a
    inner join daily_rows as r
        on r.customer_id = a.customer_id and r.campaign_id = a.campaign_id
        and r.scheduled_at < a.window_end_at
),
ledger as (
    select send_id, bool_or(state = 'accepted') as sent from {sends} as sends group by send_id
),
email as (
    select
        send_id,
        min(event_at) filter (where event = 'delivered') as delivered_at,
        min(event_at) filter (where event = 'open') as opened_at,
        min(event_at) filter (where event = 'click') as clicked_at,
        bool_or(event in ('bounce', 'dropped')) as bounced,
        bool_or(event = 'spamreport') as spam_reported
    from email_events
    where send_id is not null and event_at < $as_of
    group by send_id
),
texts as (
    -- Twilio's status callbacks carry the send id the sender put in the callback URL
    select
        send_id,
        min(event_at) filter (where message_status = 'delivered') as delivered_at,
        null::timestamp as opened_at,
        null::timestamp as clicked_at,
        bool_or(message_status in ('undelivered', 'failed')) as bounced,
        false as spam_reported
    from sms_events
    where send_id is not null and event_at < $as_of
    group by send_id
),
channel_events as (
    select send_id, 'email' as channel, * exclude (send_id) from email
    union all by name
    select send_id, 'sms' as channel, * exclude (send_id) from texts
),
messages as (
    select
        w.send_id,
        bool_or(coalesce(s.sent, false)) as sent,
        min(m.delivered_at) as delivered_at,
        min(m.opened_at) as opened_at,
        min(m.clicked_at) as clicked_at,
        bool_or(coalesce(m.bounced, false)) as bounced,
        bool_or(coalesce(m.spam_reported, false)) as spam_reported
    from window_messages as w
    left join ledger as s on s.send_id = w.message_id
    left join channel_events as m on m.send_id = w.message_id and m.channel = w.channel
    group by w.send_id
),
unsubscribes as (
    -- by address, so the holdout's unsubscribes (other mail, preference centre) count too
    select a.send_id
    from assigned as a
    inner join email_events as e
        on e.email = a.email_key
        and e.event in ('unsubscribe', 'group_unsubscribe')
        and e.event_at > a.scheduled_at and e.event_at <= a.window_end_at and e.event_at < $as_of
    union
    -- a STOP reply is a text's unsubscribe; by number, as an email's is by address, so a held-out
    -- user's STOP (to another text of ours) counts too
    select a.send_id
    from assigned as a
    inner join sms_events as e
        on e.phone = a.phone_key
        and e.is_opt_out
        and e.event_at > a.scheduled_at and e.event_at <= a.window_end_at and e.event_at < $as_of
),
activity as (
    select
        a.send_id,
        min(e.event_ts) filter (where e.event_name = a.target_event) as converted_at,
        coalesce(sum({revenue}), 0) as revenue  -- net of refunds and cancellations
    from assigned as a
    inner join stitched as e
        on e.customer_id = a.customer_id
        and e.event_ts > a.scheduled_at and e.event_ts <= a.window_end_at and e.event_ts < $as_of
    group by a.send_id
),
pre as (
    select a.send_id, count(distinct d.activity_date) as pre_active_days
    from assigned as a
    inner join pre_activity as d
        on d.customer_id = a.customer_id
        and d.activity_date >= a.run_date - $pre_days and d.activity_date < a.run_date
    group by a.send_id
)
select
    a.send_id, a.run_date, a.customer_id, a.campaign_id, a.channel, a.variant, a.arm,
    a.assignments::integer as assignments,
    a.scheduled_at, a.window_end_at,
    a.window_end_at <= $as_of as matured,
    coalesce(m.sent, false) as sent,
    m.delivered_at is not null as delivered,
    -- null, not false, on a channel whose provider cannot tell (a text has no open or click)
    case when a.channel in ({opens_channels}) then m.opened_at is not null end as opened,
    case when a.channel in ({opens_channels}) then m.clicked_at is not null end as clicked,
    coalesce(m.bounced, false) as bounced,
    case when a.channel in ({spam_channels}) then coalesce(m.spam_reported, false) end as spam_reported,
    u.send_id is not null as unsubscribed,
    c.converted_at is not null as converted,
    -- greatest() skips NULLs in DuckDB: guard explicitly so a message never opened has no time
    case when m.opened_at is not null
        then greatest(date_diff('second', a.scheduled_at, m.opened_at), 0) / 3600.0 end as hours_to_open,
    case when m.clicked_at is not null
        then greatest(date_diff('second', a.scheduled_at, m.clicked_at), 0) / 3600.0 end as hours_to_click,
    date_diff('second', a.scheduled_at, c.converted_at) / 3600.0 as hours_to_convert,
    coalesce(c.revenue, 0)::double as revenue,
    coalesce(p.pre_active_days, 0)::integer as pre_active_days,
    $run_date::date as as_of
from assigned as a
left join messages as m on m.send_id = a.send_id
left join unsubscribes as u on u.send_id = a.send_id
left join activity as c on c.send_id = a.send_id
left join pre as p on p.send_id = a.send_id
order by a.run_date, a.campaign_id, a.send_id
"""


def channel_list(reports: Callable[[Channel], bool]) -> str:
    """SQL list of the channels whose provider reports an outcome (a never-matching one when none do)."""
    names = [sql_literal(name) for name, c in CHANNELS.items() if reports(c)]
    return ", ".join(names) or "null"


def compute_outcomes(
    con: duckdb.DuckDBPyConnection, run_date: date, targets: pd.DataFrame, pre_period_days: int = 28
) -> pd.DataFrame:
    """One row per user and campaign assigned up to `run_date`, observed up to the end of that day.

    `targets`: campaign_id, target_event, attribution_window_days (from the campaign files).
    """
    require(con, INTERVENTION_LIST, LIST_COLUMNS)
    views: list[str] = []

    def view(name: str, sql: str) -> None:
        con.execute(f"create or replace temp view {name} as {sql}")
        views.append(name)

    con.register("campaign_targets", targets)
    try:
        if relation_exists(con, "staging.stg_sendgrid__email_events"):
            at = utc_naive_sql(
                "event_at", column_types(con, "staging.stg_sendgrid__email_events").get("event_at")
            )
            view(
                "email_events",
                f"select send_id, email, event, {at} as event_at from staging.stg_sendgrid__email_events",
            )
        else:
            view(
                "email_events",
                "select null::varchar as send_id, null::varchar as email, null::varchar as event, "
                "null::timestamp as event_at where false",
            )
        if relation_exists(con, "staging.stg_twilio__sms_events"):
            at = utc_naive_sql(
                "event_at", column_types(con, "staging.stg_twilio__sms_events").get("event_at")
            )
            view(
                "sms_events",
                f"select send_id, phone, message_status, is_opt_out, {at} as event_at "
                "from staging.stg_twilio__sms_events",
            )
        else:
            view(
                "sms_events",
                "select null::varchar as send_id, null::varchar as phone, null::varchar as message_status, "
                "null::boolean as is_opt_out, null::timestamp as event_at where false",
            )
        if relation_exists(con, "intermediate.int_events_stitched"):
            ts = utc_naive_sql(
                "event_ts", column_types(con, "intermediate.int_events_stitched").get("event_ts")
            )
            view(
                "stitched",
                f"select customer_id, event_name, {ts} as event_ts, try_cast(value as double) as value "
                "from intermediate.int_events_stitched where customer_id is not null",
            )
        else:
            view(
                "stitched",
                "select null::varchar as customer_id, null::varchar as event_name, "
                "null::timestamp as event_ts, null::double as value where false",
            )
        if relation_exists(con, "marts.fct_user_daily_activity"):
            has_active = column_types(con, "marts.fct_user_daily_activity").get("active_action_count")
            view(
                "pre_activity",
                "select customer_id, activity_date from marts.fct_user_daily_activity"
                + (" where coalesce(active_action_count, 0) > 0" if has_active else ""),
            )
        else:
            view(
                "pre_activity",
                "select distinct customer_id, cast(event_ts as date) as activity_date from stitched",
            )
        sql = OUTCOMES_SQL.format(
            sends=stored_or_empty(con, CAMPAIGN_SENDS),
            revenue=revenue_sql("e.event_name", "e.value"),
            opens_channels=channel_list(lambda c: c.reports_opens_and_clicks),
            spam_channels=channel_list(lambda c: c.reports_spam),
        )
        as_of = pd.Timestamp(run_date) + pd.Timedelta(days=1)
        return as_frame(
            con.execute(
                sql, {"run_date": run_date, "as_of": as_of.to_pydatetime(), "pre_days": pre_period_days}
            )
        )
    finally:
        con.unregister("campaign_targets")
        for name in views:
            con.execute(f"drop view if exists {name}")
