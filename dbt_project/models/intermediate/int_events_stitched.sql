{{
    config(
        materialized='incremental',
        incremental_strategy='append_with_relinks',
        on_schema_change='fail',
        meta={'day_partition': 'event_date'},
    )
}}
-- depends_on: {{ source('raw', 'events') }}, {{ ref('event_catalog') }}, {{ ref('stg_product__events') }}, {{ ref('int_identity_relinks') }}
{#-
    Full build: every staged event stitched to its customer. Incremental
    run (strategy append_with_relinks, macros/incremental/strategies.sql): the
    window's events not stored yet, staged by the SQL of stg_product__events, and the stored anonymous events of the devices in
    int_identity_relinks whose customer changes now (a late login
    re-attributes a device's whole anonymous history, however old), stitched
    again; the stored copies of the latter are replaced.
-#}

{%- set staged_columns = [
    'event_id', 'user_id', 'anonymous_id', 'event_name', 'event_ts', 'event_date',
    'page', 'product_id', 'category', 'value', 'device', 'channel',
    'event_kind', 'is_active_action', 'is_known_event', 'funnel_step', 'funnel_step_order', '_partition_date',
] %}

with

identity_map as (

    select * from {{ ref('int_identity_map') }}

),

{% if is_incremental() %}

window_rows as (

    -- the raw rows of this run's window (macros/incremental/window.sql)
    select * from {{ reengage.raw_events_of_window() }} as raw_window

),

unstored_rows as {{ reengage.cte_hint('materialized') }} (

    -- computed once, read three times by the staging SQL; of those, the rows whose event is not stored yet: a copy of a stored
    -- event (loaded again later) is not new, the first load wins. Checked on
    -- the raw id before staging, so only new rows are staged. A re-sent
    -- event is a copy (same time), so only stored events from the window's
    -- earliest event time on can match (a constant bound, so DuckDB skips
    -- older row groups).
    {%- set earliest = reengage.earliest_raw_window_event_literal() %}
    select window_rows.*
    from window_rows
    where not exists (
        select 1
        from {{ this }} as existing
        where
            existing.event_id = window_rows.event_id
            {%- if earliest %}
            and existing.event_ts >= {{ earliest }}
            {%- endif %}
    )

),

new_events as (

    -- staged by the SQL of stg_product__events (copies within the window: first load wins)
    select {{ staged_columns | join(', ') }}
    from (
        {{ reengage.stage_like_stg_product__events('unstored_rows') }}
    ) as staged

),

relinked_events as (

    -- stored anonymous events of those devices whose customer changes now
    {%- set prefixed = [] %}
    {%- for column in staged_columns %}{% do prefixed.append('existing.' ~ column) %}{% endfor %}
    select {{ prefixed | join(', ') }}
    from {{ this }} as existing
    inner join {{ ref('int_identity_relinks') }} as relinks
        on existing.anonymous_id = relinks.anonymous_id
    where
        existing.user_id is null
        -- the device list as IN too: DuckDB then filters the scan with it
        -- (the join alone read every stored event's columns)
        and existing.anonymous_id in (select anonymous_id from {{ ref('int_identity_relinks') }})
        and existing.customer_id is distinct from relinks.customer_id

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
        events.event_kind,
        events.is_active_action,
        events.is_known_event,
        events.funnel_step,
        events.funnel_step_order,
        events._partition_date

    from events
    left join identity_map
        on events.anonymous_id = identity_map.anonymous_id
    -- an identify call only links its ids (int_identity_links reads it from staging): it is no
    -- activity, so it is no event of sessions, activity or funnels (event catalog, kind identity)
    where coalesce(events.event_kind, '') != 'identity'

),

final as (

    select * from stitched

)

{{ contract_columns('final') }}
