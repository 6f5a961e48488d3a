{{ reengage.owner_day_rollup_config('customer_id') }}

with

-- depends_on: {{ ref('int_events_resessionized') }}, {{ ref('int_session_rebuilds') }}
customer_events as (

    {{ owner_day_events('customer_id') }}

),

final as (

    select
        {{ dbt.hash(dbt.concat(["customer_id", "'|'", "cast(event_date as " ~ dbt.type_string() ~ ")"])) }}
            as customer_day_id,
        customer_id,
        event_date as activity_date,
        count(*) as event_count,
        count(distinct session_start_at) as session_count,
        {{ count_where("is_active_action") }} as active_action_count,
        {{ count_where("event_kind = 'passive'") }} as passive_action_count,
        {{ count_where("not is_known_event") }} as unknown_event_count,
        {{ count_where("event_name = 'product_view'") }} as product_view_count,
        {{ count_where("event_kind = 'purchase'") }} as purchase_count,
        coalesce(sum({{ reengage.event_revenue('event_kind', 'value') }}), 0) as revenue,
        min(event_ts) as first_event_at,
        max(event_ts) as last_event_at,
        max(case when is_active_action then event_ts end) as last_active_action_at

    from customer_events
    group by customer_id, event_date

)

{{ contract_columns('final') }}
{{ reengage.in_date_order('activity_date') }}
