-- Every stitched event that has an owner (a customer or an anonymous id) lands
-- in exactly one session, and customer events add up to the daily activity. A
-- failure means events are lost or double counted between the layers (for an
-- incremental run: that patching the window went wrong). Incremental runs
-- compare the window's days and the owners they rebuilt from before it, from
-- their rebuild point on (macros/incremental/test_window.sql), each layer by the same rule;
-- a full refresh and the weekly whole-table run compare everything.

{%- set by_owner_and_time = {
    'owner_column': 'coalesce(customer_id, anonymous_id)', 'owner_key': 'owner_id',
    'since_column': 'event_ts', 'since_key': 'rebuild_from',
} -%}
{%- set by_session_start = {
    'owner_column': 'session_owner', 'owner_key': 'session_owner',
    'since_column': 'session_start_at', 'since_key': 'rebuild_from',
} -%}
{%- set by_customer_day = {
    'owner_column': 'customer_id', 'owner_key': 'customer_id', 'since_key': 'rebuild_from_date',
} %}

with

stitched as (

    select count(*) as event_count
    from {{ reengage.test_window_rows(
        ref('int_events_stitched'), 'event_date', by_owner_and_time,
        where='customer_id is not null or anonymous_id is not null',
    ) }}

),

stitched_by_day as (

    -- customer events as the daily activity rebuilds them: whole days
    select count(*) as customer_event_count
    from {{ reengage.test_window_rows(
        ref('int_events_stitched'), 'event_date', dict(by_customer_day, since_column='event_date'),
        where='customer_id is not null',
    ) }}

),

sessionized as (

    select count(*) as event_count
    from {{ reengage.test_window_rows(ref('int_events_sessionized'), 'event_date', by_owner_and_time) }}

),

sessionized_by_start as (

    select
        count(*) as event_count,
        sum(case when customer_id is not null then 1 else 0 end) as customer_event_count
    from {{ reengage.test_window_rows(
        ref('int_events_sessionized'), 'cast(session_start_at as date)', by_session_start
    ) }}

),

sessions as (

    select
        sum(event_count) as event_count,
        sum(case when customer_id is not null then event_count else 0 end) as customer_event_count
    from {{ reengage.test_window_rows(ref('fct_sessions'), 'session_date', by_session_start) }}

),

daily as (

    select sum(event_count) as customer_event_count
    from {{ reengage.test_window_rows(
        ref('fct_user_daily_activity'), 'activity_date', dict(by_customer_day, since_column='activity_date')
    ) }}

)

select
    stitched.event_count as stitched_events,
    sessionized.event_count as sessionized_events,
    sessionized_by_start.event_count as events_by_session_start,
    sessions.event_count as session_events,
    stitched_by_day.customer_event_count as stitched_customer_events,
    sessions.customer_event_count as session_customer_events,
    daily.customer_event_count as daily_customer_events
from stitched
cross join stitched_by_day
cross join sessionized
cross join sessionized_by_start
cross join sessions
cross join daily
where
    coalesce(stitched.event_count, 0) != coalesce(sessionized.event_count, 0)
    or coalesce(sessionized_by_start.event_count, 0) != coalesce(sessions.event_count, 0)
    or coalesce(sessionized_by_start.customer_event_count, 0) != coalesce(sessions.customer_event_count, 0)
    or coalesce(stitched_by_day.customer_event_count, 0) != coalesce(daily.customer_event_count, 0)
