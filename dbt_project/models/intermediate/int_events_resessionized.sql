{#
    The events an incremental run re-sessionizes: for every owner listed in
    int_session_rebuilds, its stitched events from its rebuild point on, cut
    into sessions. int_events_sessionized, fct_sessions and
    fct_user_daily_activity take their changes from this small table instead
    of re-reading all sessionized events. Empty on a full refresh (those
    models then rebuild from everything) and when nothing changed.
#}

with

rebuilds as (

    select * from {{ ref('int_session_rebuilds') }}

),

in_scope as (

    -- one join on (owner id, anonymous or not) per tier of owners, each with
    -- a constant bound that lets DuckDB skip older row groups: the owners
    -- first touched in the window (nearly all) read only the newest events;
    -- the few rebuilt from weeks back (a re-attributed device's customer)
    -- read the whole table, but only their own rows' columns. One join for
    -- both read every column of every stored event. Each branch names the
    -- table itself: DuckDB would buffer a CTE read twice whole.
    {%- for tier in ['recent', 'older'] %}
    {%- set earliest = reengage.earliest_rebuild_literal(tier) %}
    {%- if not loop.first %}

    union all
    {% endif %}
    select events.*
    from {{ ref('int_events_stitched') }} as events
    inner join rebuilds
        on
            coalesce(events.customer_id, events.anonymous_id) = rebuilds.owner_id
            and (events.customer_id is null) = rebuilds.is_anonymous
            and events.event_ts >= rebuilds.rebuild_from
    where
        {{ reengage.rebuild_tier_condition('rebuilds.rebuild_from', tier) }}
        {%- if earliest %}
        and events.event_ts >= {{ earliest }}
        {%- elif execute and model.get('resource_type') != 'unit_test' %}
        -- nobody of this tier to rebuild
        and 1 = 0
        {%- endif %}
    {%- endfor %}

)

select * from (
    {{ reengage.sessionize_events('in_scope') }}
) as resessionized
