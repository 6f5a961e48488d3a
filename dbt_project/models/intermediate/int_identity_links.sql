{{
    config(
        materialized='incremental',
        unique_key=['anonymous_id', 'customer_id'],
        incremental_strategy='delete+insert',
        on_schema_change='fail',
    )
}}
-- depends_on: {{ ref('stg_product__events') }}, {{ source('raw', 'events') }}, {{ ref('event_catalog') }}

with

{% if is_incremental() %}

window_rows as {{ reengage.cte_hint('materialized') }} (

    -- the raw rows of this run's window (macros/incremental/window.sql),
    -- read three times by the staging SQL
    select * from {{ reengage.raw_events_of_window() }} as raw_window

),

events as (

    -- staged by the SQL of stg_product__events
    select * from (
        {{ reengage.stage_like_stg_product__events('window_rows') }}
    ) as staged

),

{% else %}

events as (

    select * from {{ ref('stg_product__events') }}

),

{% endif %}

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

final as (

    -- one row per link, as aggregates (no window sort of every observation)
    select
        anonymous_id,
        customer_id,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at,
        {{ reengage.first_by('last_event_id', ['last_seen_at', 'last_event_id'], descending=true) }} as last_event_id,
        min(first_partition_date) as first_partition_date

    from observations
    group by anonymous_id, customer_id

)

{{ contract_columns('final') }}
