{{ reengage.owner_day_rollup_config('session_owner') }}
{#
    A compact rollup for fct_funnel_daily: each visitor's deepest funnel step
    per UTC day, so the funnel of the last 28 days reads one row per visitor
    and day instead of every event of those days. A visitor is a session
    owner: the resolved customer, else the anonymous device. Maintained like
    fct_user_daily_activity: an incremental run recomputes whole days from
    each rebuilt owner's rebuild date on (int_session_rebuilds), so a device
    whose anonymous history moves to a customer leaves its days and the
    customer gains them.
#}

with

-- depends_on: {{ ref('int_events_resessionized') }}, {{ ref('int_session_rebuilds') }}
owner_events as (

    {{ owner_day_events('session_owner') }}

),

event_catalog as (

    select * from {{ ref('event_catalog') }}

),

final as (

    select
        owner_events.session_owner,
        owner_events.customer_id,
        case when owner_events.customer_id is null then owner_events.anonymous_id end as anonymous_id,
        owner_events.event_date as activity_date,
        max(event_catalog.funnel_step_order) as deepest_funnel_step_order

    from owner_events
    inner join event_catalog
        on owner_events.event_name = event_catalog.event_name
    where event_catalog.funnel_step_order is not null
    group by
        owner_events.session_owner,
        owner_events.customer_id,
        case when owner_events.customer_id is null then owner_events.anonymous_id end,
        owner_events.event_date

)

{{ contract_columns('final') }}
{{ reengage.in_date_order('activity_date') }}
