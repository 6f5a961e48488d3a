{{
    config(
        materialized='incremental',
        unique_key='event_id',
        incremental_strategy='delete+insert',
        incremental_predicates=['user_id is null'],
        on_schema_change='fail',
    )
}}
-- depends_on: {{ source('raw', 'events') }}, {{ ref('event_catalog') }}
{#- The delete of delete+insert looks only at anonymous rows: new_events leaves
    out stored copies, so the only stored rows replaced are re-attributed
    anonymous events. -#}

{%- set staged_columns = [
    'event_id', 'user_id', 'anonymous_id', 'event_name', 'event_ts', 'event_date',
    'page', 'product_id', 'category', 'value', 'device', 'channel',
    'is_active_action', 'is_known_event', 'funnel_step', 'funnel_step_order', '_partition_date',
] %}

with

identity_map as (

    select * from {{ ref('int_identity_map') }}

),

{% if is_incremental() %}

window_events as (

    -- the raw rows of this run's window, staged like stg_product__events
    select * from (
        {{ reengage.stage_product_events(reengage.raw_events_of_window()) }}
    ) as staged

),

already_stored as (

    -- an inner join, so the small side (the window) is the one hashed; a
    -- re-sent event is a copy (same time), so only stored events from the
    -- window's earliest event time on can match (a constant bound, so
    -- DuckDB skips older row groups)
    {%- set earliest = reengage.earliest_raw_window_event_literal() %}
    select distinct existing.event_id
    from {{ this }} as existing
    inner join window_events
        on existing.event_id = window_events.event_id
    {%- if earliest %}
    where existing.event_ts >= {{ earliest }}
    {%- endif %}

),

new_events as (

    -- a copy of an event already stored (loaded again later) is not new: the first load wins
    select {{ staged_columns | join(', ') }}
    from window_events
    where not exists (
        select 1
        from already_stored
        where already_stored.event_id = window_events.event_id
    )

),

relinked_devices as (

    -- devices seen logged in within the window whose mapping may have moved:
    -- linked to several customers, or linked for the first time now (a
    -- device only ever linked to one customer, before, cannot change hands)
    select identity_map.anonymous_id
    from identity_map
    where
        exists (
            select 1
            from window_events
            where
                window_events.anonymous_id = identity_map.anonymous_id
                and window_events.user_id is not null
        )
        and (
            identity_map.linked_customer_count > 1
            or identity_map.first_linked_partition_date >= {{ reengage.incremental_window_start() }}
            or cast(identity_map.first_identified_at as date) >= {{ reengage.incremental_window_start() }}
        )

),

relinked_events as (

    -- stored anonymous events of those devices whose customer changes now,
    -- however old (a late login re-attributes the whole anonymous history)
    {%- set prefixed = [] %}
    {%- for column in staged_columns %}{% do prefixed.append('existing.' ~ column) %}{% endfor %}
    select {{ prefixed | join(', ') }}
    from {{ this }} as existing
    inner join relinked_devices
        on existing.anonymous_id = relinked_devices.anonymous_id
    left join identity_map
        on existing.anonymous_id = identity_map.anonymous_id
    where
        existing.user_id is null
        and existing.customer_id is distinct from identity_map.customer_id

),

events as (

    select * from new_events
    union all
    select * from relinked_events

),

{% else %}

events as (

    select * from {{ ref('stg_product__events') }}

),

{% endif %}

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
        events.funnel_step_order,
        events._partition_date

    from events
    left join identity_map
        on events.anonymous_id = identity_map.anonymous_id

),

final as (

    select * from stitched

)

select * from final
