{#
    The staging of product events, shared by the `stg_product__events` view
    (all raw rows) and by the incremental runs of int_identity_links and
    int_events_stitched (only the raw rows of the run's window, filtered
    before deduplication so the scan stays small). One definition, so a full
    refresh and an incremental run stage an event the same way.

    raw_rows: optional SQL relation of raw rows to stage instead of all of
        raw.events (an incremental run passes raw_events_of_window()).
    deduplicate: keep only the first load of an event_id (int_identity_links
        does without: a copy observes the same ids again, which changes no link).
#}
{% macro stage_product_events(raw_rows=none, deduplicate=true) -%}
{%- set raw_columns = [
    'event_id', 'user_id', 'anonymous_id', 'event_name', 'event_ts', 'page', 'product_id', 'category',
    'value', 'device', 'channel', '_source_file', '_source_row', '_partition_date', '_loaded_at',
] -%}

{#- All raw rows are read where they are used, not through a CTE: DuckDB
    materializes a CTE read more than once, which for a full build meant
    buffering every raw event (all columns) before staging it. An
    incremental run's few rows are worth buffering: they are computed once. #}
{%- set events = 'events' if raw_rows else source('raw', 'events') %}

with

{%- if raw_rows %}

events as (

    select * from {{ raw_rows }} as raw_rows

),

{%- endif %}

event_catalog as (

    select * from {{ ref('event_catalog') }}

),

{%- if deduplicate %}

duplicate_ids as (

    -- the same event_id can be loaded again on a later day (rare)
    select event_id
    from {{ events }} as events
    where event_id is not null
    group by event_id
    having count(*) > 1

),

first_copies as (

    -- of those, keep the first load
    select *
    from (
        select
            events.*,
            row_number() over (
                partition by events.event_id
                order by events._loaded_at, events._partition_date, events._source_file, events._source_row
            ) as load_rank
        from {{ events }} as events
        inner join duplicate_ids
            on events.event_id = duplicate_ids.event_id
    ) as ranked
    where load_rank = 1

),

first_loaded as (

    -- every other event as it comes (no sort of all events, and the scan order is kept)
    select {{ raw_columns | join(', ') }}
    from {{ events }} as events
    where not exists (
        select 1
        from duplicate_ids
        where duplicate_ids.event_id = events.event_id
    )

    union all

    select {{ raw_columns | join(', ') }}
    from first_copies

),

{%- else %}

first_loaded as (

    select * from {{ events }} as events

),

{%- endif %}

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
    from first_loaded

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

{%- endmacro %}
