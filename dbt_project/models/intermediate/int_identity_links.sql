{{
    config(
        materialized='incremental',
        unique_key=['anonymous_id', 'customer_id'],
        incremental_strategy='delete+insert',
        on_schema_change='fail',
    )
}}
-- depends_on: {{ ref('stg_product__events') }}

with

events as (

    -- raw rows staged without deduplication: a copy of an event observes the
    -- same link again, which changes nothing; an incremental run reads only
    -- the raw rows of its window (see macros/incremental.sql)
    select * from (
        {{ reengage.stage_product_events(
            reengage.raw_events_of_window() if is_incremental() else none,
            deduplicate=false,
        ) }}
    ) as staged

),

observations as (

    -- each event carrying both ids observes the link once
    select
        anonymous_id,
        user_id as customer_id,
        event_ts as first_seen_at,
        event_ts as last_seen_at,
        event_id as last_event_id,
        _partition_date as first_partition_date
    from events
    where
        anonymous_id is not null
        and user_id is not null

    {% if is_incremental() %}

    union all

    -- what earlier runs knew about the links seen again now
    select
        existing.anonymous_id,
        existing.customer_id,
        existing.first_seen_at,
        existing.last_seen_at,
        existing.last_event_id,
        existing.first_partition_date
    from {{ this }} as existing
    where exists (
        select 1
        from events
        where
            events.anonymous_id = existing.anonymous_id
            and events.user_id = existing.customer_id
    )

    {% endif %}

),

ranked as (

    select
        *,
        min(first_seen_at) over (partition by anonymous_id, customer_id) as link_first_seen_at,
        min(first_partition_date) over (partition by anonymous_id, customer_id) as link_first_partition_date,
        row_number() over (
            partition by anonymous_id, customer_id
            order by last_seen_at desc, last_event_id desc
        ) as recency_rank
    from observations

),

final as (

    select
        anonymous_id,
        customer_id,
        link_first_seen_at as first_seen_at,
        last_seen_at,
        last_event_id,
        link_first_partition_date as first_partition_date

    from ranked
    where recency_rank = 1

)

select * from final
