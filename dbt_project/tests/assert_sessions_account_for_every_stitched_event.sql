-- Every stitched event that has an owner (a customer or an anonymous id) lands
-- in exactly one session, and customer events add up to the daily activity. A
-- failure means events are lost or double counted between the layers (for an
-- incremental run: that patching the window went wrong). Incremental runs
-- compare the window's days, a full refresh everything.

with

stitched as (

    select
        count(*) as event_count,
        sum(case when customer_id is not null then 1 else 0 end) as customer_event_count
    from {{ ref('int_events_stitched') }}
    where
        (customer_id is not null or anonymous_id is not null)
        and {{ reengage.test_window_filter('event_date') }}

),

sessionized as (

    select count(*) as event_count
    from {{ ref('int_events_sessionized') }}
    where {{ reengage.test_window_filter('event_date') }}

),

sessionized_by_start as (

    select
        count(*) as event_count,
        sum(case when customer_id is not null then 1 else 0 end) as customer_event_count
    from {{ ref('int_events_sessionized') }}
    where {{ reengage.test_window_filter('cast(session_start_at as date)') }}

),

sessions as (

    select
        sum(event_count) as event_count,
        sum(case when customer_id is not null then event_count else 0 end) as customer_event_count
    from {{ ref('fct_sessions') }}
    where {{ reengage.test_window_filter('session_date') }}

),

daily as (

    select sum(event_count) as customer_event_count
    from {{ ref('fct_user_daily_activity') }}
    where {{ reengage.test_window_filter('activity_date') }}

)

select
    stitched.event_count as stitched_events,
    sessionized.event_count as sessionized_events,
    sessionized_by_start.event_count as events_by_session_start,
    sessions.event_count as session_events,
    stitched.customer_event_count as stitched_customer_events,
    sessions.customer_event_count as session_customer_events,
    daily.customer_event_count as daily_customer_events
from stitched
cross join sessionized
cross join sessionized_by_start
cross join sessions
cross join daily
where
    coalesce(stitched.event_count, 0) != coalesce(sessionized.event_count, 0)
    or coalesce(sessionized_by_start.event_count, 0) != coalesce(sessions.event_count, 0)
    or coalesce(sessionized_by_start.customer_event_count, 0) != coalesce(sessions.customer_event_count, 0)
    or coalesce(stitched.customer_event_count, 0) != coalesce(daily.customer_event_count, 0)
