{#
    Which sessions this run recomputes. On an incremental run, one row per
    session owner whose events changed or may have changed (every event of
    the window not sessionized yet, and the stored anonymous events of the
    devices in int_identity_relinks), with the instant from which that
    owner's sessions are rebuilt: the earliest touched event, or the start of the stored session
    it may extend (a session that crossed midnight into the window, or ended
    less than the session gap before a late event). Everything before that
    instant is provably unchanged, because the owner's previous event lies
    more than the session gap earlier.

    Owners an event leaves (a device re-attributed to another customer) are
    listed too, so their old sessions are deleted. On a full refresh, or
    before int_events_sessionized exists, the table is empty and the session
    models rebuild everything.

    It reads the sessions of the previous run without ref() (the session
    models depend on this one); see macros/incremental/window.sql.
#}
{%- set gap_minutes = var('session_gap_minutes') | int -%}
{%- set incremental = reengage.sessions_are_incremental() -%}
{%- set previous = reengage.previous_relation_of('int_events_sessionized') if incremental else none -%}

-- depends_on: {{ ref('int_identity_relinks') }}

with

stitched as (

    select * from {{ ref('int_events_stitched') }}

),

{% if incremental %}

window_events as (

    select
        event_id,
        customer_id,
        anonymous_id,
        event_ts
    from {{ reengage.staged_events_of_window(ref('int_events_stitched')) }} as window_rows

),

unsessionized_events as (

    -- the window's events the stored sessions do not hold yet: new in this
    -- run, or left by a run that stopped before sessionizing them. Events
    -- of the window already sessionized cannot have changed (a copy loaded
    -- again is not new, and a re-attributed one is a moved event below), so
    -- an owner is not rebuilt for them. Only stored events from the floor on
    -- are compared (a constant bound, so older row groups are skipped); an
    -- older event of the window is then simply rebuilt again, which is safe.
    select window_events.*
    from window_events
    where not exists (
        select 1
        from {{ previous }} as previous
        where
            previous.event_id = window_events.event_id
            and previous.event_ts >= cast('{{ reengage.rebuild_tail_floor() }}' as {{ dbt.type_timestamp() }})
    )

),

moved_events as (

    -- the stored anonymous events of the devices in int_identity_relinks
    -- that change hands now:
    -- each now belongs to the customer its device maps to, and leaves the
    -- owner it had in the stored sessions (compared with the stored
    -- sessions, not the stitched events, so a run that failed between
    -- int_events_stitched and int_events_sessionized is repaired by the
    -- next). IN rather than a join, so DuckDB filters the scan with the
    -- device list.
    select
        {{ reengage.session_owner('relinks.customer_id', 'previous.anonymous_id') }} as session_owner,
        relinks.customer_id,
        previous.anonymous_id,
        previous.event_ts,
        previous.session_owner as previous_session_owner,
        previous.customer_id as previous_customer_id,
        previous.anonymous_id as previous_anonymous_id
    from {{ previous }} as previous
    inner join {{ ref('int_identity_relinks') }} as relinks
        on previous.anonymous_id = relinks.anonymous_id
    where
        previous.anonymous_id in (select anonymous_id from {{ ref('int_identity_relinks') }})
        and (previous.identity_source is null or previous.identity_source != 'user_id')
        and previous.session_owner
        != {{ reengage.session_owner('relinks.customer_id', 'previous.anonymous_id') }}

),

touched as (

    -- every event not sessionized yet, with the owner it belongs to now ...
    select
        {{ reengage.session_owner('customer_id', 'anonymous_id') }} as session_owner,
        customer_id,
        case when customer_id is null then anonymous_id end as anonymous_id,
        event_ts
    from unsessionized_events
    where
        customer_id is not null
        or anonymous_id is not null

    union all

    -- ... every moved event with the owner it joins ...
    select
        session_owner,
        customer_id,
        case when customer_id is null then anonymous_id end,
        event_ts
    from moved_events

    union all

    -- ... and the owner it leaves
    select
        previous_session_owner,
        previous_customer_id,
        case when previous_customer_id is null then previous_anonymous_id end,
        event_ts
    from moved_events

),

first_touches as (

    select
        session_owner,
        max(customer_id) as customer_id,
        max(anonymous_id) as anonymous_id,
        min(event_ts) as first_touched_at,
        -- whole days are recomputed (fct_user_daily_activity): from the
        -- midnight that starts the first touched day
        cast(cast(min(event_ts) as date) as {{ dbt.type_timestamp() }}) as first_touched_day_start
    from touched
    group by session_owner

),

open_sessions as (

    -- the stored session a change from that midnight on can reach: the one
    -- of the first stored event at most {{ gap_minutes }} minutes before it (or later).
    -- Owners first touched inside the window (nearly all) read only the
    -- stored events from the window start on (a constant bound, so DuckDB
    -- skips older row groups); owners of moved older events read them all.
    select
        first_touches.session_owner,
        min(previous.session_start_at) as session_start_at
    from first_touches
    inner join {{ previous }} as previous
        on previous.session_owner = first_touches.session_owner
    where
        first_touches.first_touched_day_start >= cast({{ reengage.incremental_window_start() }} as {{ dbt.type_timestamp() }})
        and previous.event_ts >= {{ dbt.dateadd('minute', -gap_minutes, 'first_touches.first_touched_day_start') }}
        and previous.event_ts >= {{ dbt.dateadd(
            'minute', -gap_minutes, 'cast(' ~ reengage.incremental_window_start() ~ ' as ' ~ dbt.type_timestamp() ~ ')'
        ) }}
    group by first_touches.session_owner

    union all

    select
        first_touches.session_owner,
        min(previous.session_start_at) as session_start_at
    from first_touches
    inner join {{ previous }} as previous
        on previous.session_owner = first_touches.session_owner
    where
        first_touches.first_touched_day_start < cast({{ reengage.incremental_window_start() }} as {{ dbt.type_timestamp() }})
        and previous.session_owner in (
            select session_owner
            from first_touches
            where first_touched_day_start < cast({{ reengage.incremental_window_start() }} as {{ dbt.type_timestamp() }})
        )
        and previous.event_ts >= {{ dbt.dateadd('minute', -gap_minutes, 'first_touches.first_touched_day_start') }}
    group by first_touches.session_owner

),

rebuild_points as (

    select
        first_touches.session_owner,
        first_touches.customer_id,
        first_touches.anonymous_id,
        case
            when open_sessions.session_start_at < first_touches.first_touched_at
                then open_sessions.session_start_at
            else first_touches.first_touched_at
        end as rebuild_from,
        cast(first_touches.first_touched_day_start as date) as rebuild_from_date
    from first_touches
    left join open_sessions
        on first_touches.session_owner = open_sessions.session_owner

),

final as (

    select
        session_owner,
        customer_id,
        anonymous_id,
        coalesce(customer_id, anonymous_id) as owner_id,
        customer_id is null as is_anonymous,
        rebuild_from,
        rebuild_from_date

    from rebuild_points

)

{% else %}

final as (

    -- full build: nothing to patch, the session models rebuild everything
    select
        cast(null as {{ dbt.type_string() }}) as session_owner,
        cast(null as {{ dbt.type_string() }}) as customer_id,
        cast(null as {{ dbt.type_string() }}) as anonymous_id,
        cast(null as {{ dbt.type_string() }}) as owner_id,
        cast(null as {{ dbt.type_boolean() }}) as is_anonymous,
        cast(null as {{ dbt.type_timestamp() }}) as rebuild_from,
        cast(null as date) as rebuild_from_date
    from stitched
    where 1 = 0

)

{% endif %}

{{ contract_columns('final') }}
