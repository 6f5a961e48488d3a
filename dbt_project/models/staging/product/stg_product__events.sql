{#-
    The incremental models int_identity_links and int_events_stitched stage
    the raw rows of their window with this very SQL: they render this file
    with its `source` reading those rows (macros/incremental/staged_like_stg_product__events.sql),
    since a filter on this view cannot reach below its deduplication, which
    reads every raw event.
-#}

with

source as {{ reengage.cte_hint('not materialized') }} (

    -- read where it is used (three times): a CTE read more than once is
    -- otherwise buffered whole, for a full build every raw event

    select * from {{ source('raw', 'events') }}

),

event_catalog as (

    select * from {{ ref('event_catalog') }}

),

duplicate_ids as (

    -- the same event_id can be loaded again on a later day (rare)
    select event_id
    from source
    where event_id is not null
    group by event_id
    having count(*) > 1

),

first_copies as (

    -- of those, the first load wins
    select *
    from (
        select
            source.*,
            row_number() over (
                partition by source.event_id
                order by source._loaded_at, source._partition_date, source._source_file, source._source_row
            ) as load_rank
        from source
        inner join duplicate_ids
            on source.event_id = duplicate_ids.event_id
    ) as ranked
    where load_rank = 1

),

deduplicated as (

    -- every other event as it comes (no sort of all events, and the scan order is kept)
    select
        event_id, user_id, anonymous_id, event_name, event_ts, page, product_id, category,
        value, device, channel, _partition_date
    from source
    where
        not exists (
            select 1
            from duplicate_ids
            where duplicate_ids.event_id = source.event_id
        )

    union all

    select
        event_id, user_id, anonymous_id, event_name, event_ts, page, product_id, category,
        value, device, channel, _partition_date
    from first_copies

),

renamed as (

    select
        event_id,
        nullif(trim(user_id), '') as user_id,
        nullif(trim(anonymous_id), '') as anonymous_id,
        lower(trim(event_name)) as event_name,
        {{ reengage.to_utc_timestamp('event_ts') }} as event_ts,
        page,
        product_id,
        category,
        value,
        device,
        channel,
        _partition_date

    from deduplicated

),

as_of_events as (

    select *
    from renamed
    where event_ts < {{ reengage.as_of_end() }}

),

final as (

    select
        as_of_events.event_id,
        as_of_events.user_id,
        as_of_events.anonymous_id,
        as_of_events.event_name,
        as_of_events.event_ts,
        cast(as_of_events.event_ts as date) as event_date,
        as_of_events.page,
        as_of_events.product_id,
        as_of_events.category,
        as_of_events.value,
        as_of_events.device,
        as_of_events.channel,
        event_catalog.kind as event_kind,
        coalesce(event_catalog.is_active_action, false) as is_active_action,
        event_catalog.event_name is not null as is_known_event,
        event_catalog.funnel_step,
        event_catalog.funnel_step_order,
        as_of_events._partition_date

    from as_of_events
    left join event_catalog
        on as_of_events.event_name = event_catalog.event_name

)

select * from final
