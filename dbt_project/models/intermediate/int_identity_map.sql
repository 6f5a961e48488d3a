with

events as (

    select * from {{ ref('stg_product__events') }}

),

identified as (

    -- events carrying both ids tie a device/cookie to a customer
    select
        anonymous_id,
        user_id,
        event_id,
        event_ts
    from events
    where
        anonymous_id is not null
        and user_id is not null

),

last_seen as (

    select
        anonymous_id,
        user_id,
        event_ts,
        row_number() over (
            partition by anonymous_id
            order by event_ts desc, event_id desc
        ) as recency_rank
    from identified

),

links as (

    select
        anonymous_id,
        min(event_ts) as first_identified_at,
        count(distinct user_id) as linked_customer_count
    from identified
    group by anonymous_id

),

final as (

    select
        last_seen.anonymous_id,
        last_seen.user_id as customer_id,
        links.first_identified_at,
        last_seen.event_ts as last_identified_at,
        links.linked_customer_count

    from last_seen
    inner join links
        on last_seen.anonymous_id = links.anonymous_id
    where last_seen.recency_rank = 1

)

select * from final
