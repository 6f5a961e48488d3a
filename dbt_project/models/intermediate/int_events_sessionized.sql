{% set gap_minutes = var('session_gap_minutes') %}

with

events as (

    select * from {{ ref('int_events_stitched') }}

),

keyed as (

    -- a session belongs to the resolved customer, else to the anonymous id
    select
        *,
        case
            when customer_id is not null then {{ dbt.concat(["'customer:'", "customer_id"]) }}
            else {{ dbt.concat(["'anonymous:'", "anonymous_id"]) }}
        end as session_owner
    from events
    where
        customer_id is not null
        or anonymous_id is not null

),

with_previous as (

    select
        *,
        lag(event_ts) over (
            partition by session_owner
            order by event_ts, event_id
        ) as previous_event_ts
    from keyed

),

marked as (

    -- a gap of exactly {{ gap_minutes }} minutes stays in the session; one second more starts a new one
    select
        *,
        case
            when previous_event_ts is null then 1
            when event_ts > {{ dbt.dateadd('minute', gap_minutes, 'previous_event_ts') }} then 1
            else 0
        end as is_session_start
    from with_previous

),

numbered as (

    select
        *,
        sum(is_session_start) over (
            partition by session_owner
            order by event_ts, event_id
            rows between unbounded preceding and current row
        ) as session_number
    from marked

),

bounded as (

    select
        *,
        min(event_ts) over (partition by session_owner, session_number) as session_start_at
    from numbered

),

final as (

    select
        {{ dbt.hash(dbt.concat([
            "session_owner", "'|'", "cast(session_start_at as " ~ dbt.type_string() ~ ")"
        ])) }} as session_id,
        session_owner,
        session_number,
        session_start_at,
        is_session_start = 1 as is_session_start,
        event_id,
        customer_id,
        anonymous_id,
        event_name,
        event_ts,
        event_date,
        page,
        product_id,
        category,
        value,
        device,
        channel,
        is_active_action,
        is_known_event

    from bounded

)

select * from final
