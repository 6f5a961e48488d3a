{{ reengage.owner_day_rollup_config('customer_id') }}
{#
    A compact rollup for the preferred local hour (int_customer_activity_summary):
    events per customer and UTC quarter hour. Every time zone's offset is a
    whole number of quarter hours, so all events of a quarter hour share one
    local hour. Maintained like fct_user_daily_activity (whole days from each
    rebuilt customer's rebuild date on).
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
        {{ dbt.dateadd(
            'minute',
            '15 * floor(extract(minute from event_ts) / 15)',
            dbt.date_trunc('hour', 'event_ts'),
        ) }} as quarter_hour_start,
        count(*) as event_count

    from customer_events
    group by 1, 2, 3

)

{{ contract_columns('final') }}
{{ reengage.in_date_order('activity_date') }}
