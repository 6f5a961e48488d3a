{#
    The events an incremental run re-sessionizes: for every owner listed in
    int_session_rebuilds, its stitched events from its rebuild point on, cut
    into sessions. int_events_sessionized, fct_sessions and
    fct_user_daily_activity take their changes from this small table instead
    of re-reading all sessionized events. Empty on a full refresh (those
    models then rebuild from everything) and when nothing changed.
#}
{%- set earliest = reengage.earliest_rebuild_literal() %}

with

events as (

    select * from {{ ref('int_events_stitched') }}

),

rebuilds as (

    select * from {{ ref('int_session_rebuilds') }}

),

in_scope as (

    -- one join on (owner id, anonymous or not), so the stitched events are
    -- read once; the constant bound lets DuckDB skip older row groups
    select events.*
    from events
    inner join rebuilds
        on
            coalesce(events.customer_id, events.anonymous_id) = rebuilds.owner_id
            and (events.customer_id is null) = rebuilds.is_anonymous
            and events.event_ts >= rebuilds.rebuild_from
    {%- if earliest %}
    where events.event_ts >= {{ earliest }}
    {%- elif execute and model.get('resource_type') != 'unit_test' %}
    -- nothing to rebuild
    where 1 = 0
    {%- endif %}

)

select * from (
    {{ reengage.sessionize_events('in_scope') }}
) as resessionized
