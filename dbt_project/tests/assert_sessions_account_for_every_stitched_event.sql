-- Every stitched event that has an owner (a customer or an anonymous id) lands
-- in exactly one session, and customer events add up to the daily activity. A
-- failure means events are lost or double counted between the layers.

with

stitched as (

    select
        count(*) as event_count,
        sum(case when customer_id is not null then 1 else 0 end) as customer_event_count
    from {{ ref('int_events_stitched') }}
    where customer_id is not null or anonymous_id is not null

),

sessions as (

    select
        sum(event_count) as event_count,
        sum(case when customer_id is not null then event_count else 0 end) as customer_event_count
    from {{ ref('fct_sessions') }}

),

daily as (

    select sum(event_count) as customer_event_count
    from {{ ref('fct_user_daily_activity') }}

)

select
    stitched.event_count as stitched_events,
    sessions.event_count as session_events,
    stitched.customer_event_count as stitched_customer_events,
    sessions.customer_event_count as session_customer_events,
    daily.customer_event_count as daily_customer_events
from stitched
cross join sessions
cross join daily
where
    coalesce(stitched.event_count, 0) != coalesce(sessions.event_count, 0)
    or coalesce(stitched.customer_event_count, 0) != coalesce(sessions.customer_event_count, 0)
    or coalesce(stitched.customer_event_count, 0) != coalesce(daily.customer_event_count, 0)
