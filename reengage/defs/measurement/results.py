"""Daily assignments and their messages per campaign, channel, variant and arm, for every run date up to D.

A row counts daily assignments (one per user, campaign and run date), so a user assigned on
several days counts on each: these are the operational counts, to check against the send
ledger, not experiment results. The experiment counts each user once per campaign, from their
first assignment (``outcomes`` and ``analysis``, tables ``campaign_summary`` and
``campaign_comparisons``). Outcomes keep arriving for days after a send (opens, late conversions), so each
run recomputes every run date so far; the clock for a held-out user is the same
scheduled send time a treated user got.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

from reengage.schema.declared import CAMPAIGN_RESULTS, CAMPAIGN_SENDS, INTERVENTION_LIST
from reengage.schema.migrations import migrate, require, stored_or_empty
from reengage.tables import as_frame
from reengage.warehouse import transaction

RESULTS_SQL = """
with assigned as (
    select send_id, run_date, customer_id, campaign_id, channel, variant, arm, scheduled_send_at_utc
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
    from staging.stg_sendgrid__email_events
    where send_id is not null
    group by send_id
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
        coalesce(m.delivered, false) as delivered,
        coalesce(m.opened, false) as opened,
        coalesce(m.clicked, false) as clicked,
        coalesce(m.unsubscribed, false) as unsubscribed,
        c.send_id is not null as converted
    from assigned as a
    left join sends as s on s.send_id = a.send_id
    left join email as m on m.send_id = a.send_id
    left join conversions as c on c.send_id = a.send_id
)
select
    run_date, campaign_id, channel, variant, arm,
    count(*) as assigned,
    count(*) filter (where sent) as sent,
    count(*) filter (where delivered) as delivered,
    count(*) filter (where opened) as opened,
    count(*) filter (where clicked) as clicked,
    count(*) filter (where unsubscribed) as unsubscribed,
    count(*) filter (where converted) as converted,
    count(*) filter (where clicked) / nullif(count(*) filter (where delivered), 0) as click_rate,
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
    sql = RESULTS_SQL.replace("{sends}", stored_or_empty(con, CAMPAIGN_SENDS))
    try:
        return as_frame(con.execute(sql, {"run_date": run_date}))
    finally:
        con.unregister("campaign_targets")


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
