{#
    The sessionization of int_events_sessionized, applied to `events` (a
    relation or CTE of stitched events): a gap of more than
    var('session_gap_minutes') since the owner's previous event starts a new
    session. Shared by the full build (every event) and by
    int_events_resessionized (the events an incremental run rebuilds), so
    both cut sessions the same way. Two window passes over a narrow
    projection (owner, time, id): the first finds the starts and numbers
    the owner's events in (event_ts, event_id) order, the second carries the
    latest start and its number forward; the other columns are joined back
    by event_id (cheaper than sorting every column twice). An event's
    position in its session (1 for the first) follows from its number and
    its session start's, so fct_sessions finds a session's first event by
    one integer instead of by (event_ts, event_id) (a struct key cost it
    30 s more at 50M events).
    Pass a relation, or a CTE that may be read twice; owner_filter (a
    predicate on its customer_id and anonymous_id) limits it to some owners
    (macros/incremental/owner_buckets.sql).
#}
{% macro sessionize_events(events, owner_filter=none) -%}
{%- set gap_minutes = var('session_gap_minutes') %}
with

keyed as (

    -- a session belongs to the resolved customer, else to the anonymous id.
    -- The windows partition by that id and its kind rather than by the
    -- session_owner text: 'customer:' in front of every key made DuckDB's
    -- sort compare whole strings (each pass 20% slower at 50M events)
    select
        event_id,
        event_ts,
        coalesce(customer_id, anonymous_id) as owner_id,
        customer_id is null as is_anonymous_owner
    from {{ events }} as events
    where
        (customer_id is not null or anonymous_id is not null)
        {%- if owner_filter %}
        and {{ owner_filter }}
        {%- endif %}

),

with_previous as (

    select
        *,
        lag(event_ts) over (
            partition by owner_id, is_anonymous_owner order by event_ts, event_id
        ) as previous_event_ts,
        row_number() over (
            partition by owner_id, is_anonymous_owner order by event_ts, event_id
        ) as owner_event_number
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

started as (

    -- the start of an event's session: the latest session start so far in
    -- the owner's timeline (ordered by the row number: the same order as
    -- (event_ts, event_id), with one integer to sort on)
    select
        *,
        max(case when is_session_start = 1 then event_ts end) over (
            partition by owner_id, is_anonymous_owner
            order by owner_event_number
            rows between unbounded preceding and current row
        ) as session_start_at,
        max(case when is_session_start = 1 then owner_event_number end) over (
            partition by owner_id, is_anonymous_owner
            order by owner_event_number
            rows between unbounded preceding and current row
        ) as session_start_owner_event_number
    from marked

),

final as (

    -- the session is (session_owner, session_start_at); fct_sessions hashes
    -- them into session_id once per session rather than once per event
    select
        {{ reengage.session_owner('events.customer_id', 'events.anonymous_id') }} as session_owner,
        started.session_start_at,
        started.is_session_start = 1 as is_session_start,
        started.owner_event_number - started.session_start_owner_event_number + 1 as session_event_number,
        started.event_id,
        events.customer_id,
        events.anonymous_id,
        events.identity_source,
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
        events.is_known_event

    from started
    {%- if owner_filter %}
    inner join (select * from {{ events }} as events where {{ owner_filter }}) as events
    {%- else %}
    inner join {{ events }} as events
    {%- endif %}
        on started.event_id = events.event_id

)

select * from final
{%- endmacro %}

{# Whose events a session groups: `customer:<id>`, else `anonymous:<id>` (null when neither). #}
{% macro session_owner(customer_id, anonymous_id) -%}
    case
        when {{ customer_id }} is not null then {{ dbt.concat(["'customer:'", customer_id]) }}
        when {{ anonymous_id }} is not null then {{ dbt.concat(["'anonymous:'", anonymous_id]) }}
    end
{%- endmacro %}
