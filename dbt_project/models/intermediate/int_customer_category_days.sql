{{ reengage.owner_day_rollup_config('customer_id') }}
{#
    A compact rollup for the favourite category (int_customer_activity_summary):
    events with a category per customer, UTC day and category. Maintained
    like fct_user_daily_activity: an incremental run recomputes whole days
    from each rebuilt customer's rebuild date on (int_session_rebuilds).
#}

with

-- depends_on: {{ ref('int_events_resessionized') }}, {{ ref('int_session_rebuilds') }}
customer_events as (

    {{ owner_day_events('customer_id') }}

),

final as (

    select
        customer_id,
        event_date as activity_date,
        category,
        count(*) as event_count,
        max(event_ts) as last_event_at

    from customer_events
    where category is not null
    group by customer_id, event_date, category

)

{{ contract_columns('final') }}
{{ reengage.in_date_order('activity_date') }}
