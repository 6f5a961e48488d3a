with

events as (

    select * from {{ ref('stg_product__events') }}

),

identity_map as (

    select * from {{ ref('int_identity_map') }}

),

stitched as (

    select
        events.event_id,
        coalesce(events.user_id, identity_map.customer_id) as customer_id,
        case
            when events.user_id is not null then 'user_id'
            when identity_map.customer_id is not null then 'anonymous_id'
        end as identity_source,
        events.user_id,
        events.anonymous_id,
        events.event_name,
        events.event_ts,
        events.event_date,
        events.page,
        events.product_id,
        events.category,
        events.value,
        events.device,
        events.channel,
        events.is_active_action,
        events.is_known_event,
        events.funnel_step,
        events.funnel_step_order

    from events
    left join identity_map
        on events.anonymous_id = identity_map.anonymous_id

),

final as (

    select * from stitched

)

select * from final
