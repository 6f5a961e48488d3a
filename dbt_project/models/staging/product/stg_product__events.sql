with

events as (

    select * from {{ source('raw', 'events') }}

),

event_catalog as (

    select * from {{ ref('event_catalog') }}

),

first_loaded as (

    -- the same event_id can be loaded again on a later day: keep the first load
    select
        *,
        row_number() over (
            partition by event_id
            order by _loaded_at, _partition_date, _source_file, _source_row
        ) as load_rank
    from events

),

renamed as (

    select
        event_id,
        nullif(trim(user_id), '') as user_id,
        nullif(trim(anonymous_id), '') as anonymous_id,
        lower(trim(event_name)) as event_name,
        {{ to_utc_timestamp('event_ts') }} as event_ts,
        page,
        product_id,
        category,
        value,
        device,
        channel
    from first_loaded
    where load_rank = 1

),

as_of_events as (

    select *
    from renamed
    where event_ts < {{ as_of_end() }}

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
        coalesce(event_catalog.is_active_action, false) as is_active_action,
        event_catalog.event_name is not null as is_known_event,
        event_catalog.funnel_step,
        event_catalog.funnel_step_order

    from as_of_events
    left join event_catalog
        on as_of_events.event_name = event_catalog.event_name

)

select * from final
