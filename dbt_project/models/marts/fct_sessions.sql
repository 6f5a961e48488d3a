with

events as (

    select * from {{ ref('int_events_sessionized') }}

),

firsts as (

    -- entry page, device and channel come from the session's first event that
    -- has one (a login or search event often carries no page)
    select
        session_id,
        page,
        device,
        channel,
        row_number() over (
            partition by session_id
            order by case when page is null then 1 else 0 end, event_ts, event_id
        ) as page_rank,
        row_number() over (
            partition by session_id
            order by case when device is null then 1 else 0 end, event_ts, event_id
        ) as device_rank,
        row_number() over (
            partition by session_id
            order by case when channel is null then 1 else 0 end, event_ts, event_id
        ) as channel_rank
    from events

),

entry_attributes as (

    select
        session_id,
        max(case when page_rank = 1 then page end) as entry_page,
        max(case when device_rank = 1 then device end) as device,
        max(case when channel_rank = 1 then channel end) as channel
    from firsts
    group by session_id

),

aggregated as (

    select
        session_id,
        session_owner,
        max(customer_id) as customer_id,
        max(case when customer_id is null then anonymous_id end) as anonymous_id,
        min(event_ts) as session_start_at,
        max(event_ts) as session_end_at,
        count(*) as event_count,
        {{ count_where("is_active_action") }} as active_action_count,
        {{ count_where("event_name = 'page_view'") }} as page_view_count,
        {{ count_where("event_name = 'product_view'") }} as product_view_count,
        {{ count_where("event_name = 'add_to_cart'") }} as add_to_cart_count,
        {{ count_where("event_name = 'purchase'") }} as purchase_count,
        coalesce(sum(case when event_name = 'purchase' then value end), 0) as revenue
    from events
    group by session_id, session_owner

),

final as (

    select
        aggregated.session_id,
        aggregated.session_owner,
        aggregated.customer_id,
        aggregated.anonymous_id,
        aggregated.customer_id is null as is_anonymous,
        aggregated.session_start_at,
        aggregated.session_end_at,
        cast(aggregated.session_start_at as date) as session_date,
        {{ dbt.datediff('aggregated.session_start_at', 'aggregated.session_end_at', 'second') }}
            as duration_seconds,
        aggregated.event_count,
        aggregated.active_action_count,
        aggregated.page_view_count,
        aggregated.product_view_count,
        aggregated.add_to_cart_count,
        aggregated.purchase_count,
        aggregated.revenue,
        entry_attributes.entry_page,
        entry_attributes.device,
        entry_attributes.channel,
        aggregated.purchase_count > 0 as converted

    from aggregated
    inner join entry_attributes
        on aggregated.session_id = entry_attributes.session_id

)

select * from final
