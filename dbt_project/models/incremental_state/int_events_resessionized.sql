{#
    The events an incremental run re-sessionizes: for every owner listed in
    int_session_rebuilds, its stitched events from its rebuild point on, cut
    into sessions. int_events_sessionized, fct_sessions and
    fct_user_daily_activity take their changes from this small table instead
    of re-reading all sessionized events. Empty on a full refresh (those
    models then rebuild from everything) and when nothing changed.
#}

{#-
    One branch per group of owners, each a join with a constant bound that
    lets DuckDB skip older row groups. The owners first touched in the window
    (nearly all) read only the newest events. The few rebuilt from weeks back
    read the whole table, so they are joined on a plain column with an IN
    list DuckDB pushes into the scan: customers (a re-attributed device's new
    customer) on customer_id, devices still anonymous (a late event) on
    anonymous_id. One join on coalesce(customer_id, anonymous_id) read every
    column of every stored event. Each branch names the table itself: DuckDB
    would buffer a CTE read twice whole.
-#}
{%- set relinked_devices = '(select anonymous_id from ' ~ ref('int_identity_relinks') ~ ' where anonymous_id is not null)' -%}
{%- set branches = [
    {
        'tier': 'recent',
        'owners': 'not rebuilds.is_anonymous or rebuilds.owner_id not in ' ~ relinked_devices,
        'owner_match': 'coalesce(events.customer_id, events.anonymous_id) = rebuilds.owner_id'
            ~ ' and (events.customer_id is null) = rebuilds.is_anonymous',
        'scan_key': none,
    },
    {
        'tier': 'older',
        'owners': 'not rebuilds.is_anonymous',
        'owner_match': 'events.customer_id = rebuilds.owner_id',
        'scan_key': 'events.customer_id',
    },
    {
        'tier': 'older',
        'owners': 'rebuilds.is_anonymous and rebuilds.owner_id not in ' ~ relinked_devices,
        'owner_match': 'events.anonymous_id = rebuilds.owner_id and events.customer_id is null',
        'scan_key': 'events.anonymous_id',
    },
] -%}

with

in_scope as (

    -- A device listed because its anonymous events moved to the customer it
    -- now maps to (int_identity_relinks) has no events left under its own
    -- id: int_events_stitched re-stitched every one of them in this run. It
    -- is listed only so its old sessions are deleted, and is not read.
    {%- for branch in branches %}
    {%- set earliest = reengage.earliest_rebuild_literal(branch['tier'], branch['owners']) %}
    {%- if not loop.first %}

    union all
    {% endif %}
    select events.*
    from {{ ref('int_events_stitched') }} as events
    inner join {{ ref('int_session_rebuilds') }} as rebuilds
        on
            {{ branch['owner_match'] }}
            and events.event_ts >= rebuilds.rebuild_from
    where
        {{ reengage.rebuild_tier_condition('rebuilds.rebuild_from', branch['tier']) }}
        and ({{ branch['owners'] }})
        {%- if branch['scan_key'] %}
        and {{ branch['scan_key'] }} in (
            select owner_id
            from {{ ref('int_session_rebuilds') }} as rebuilds
            where {{ reengage.rebuild_tier_condition('rebuilds.rebuild_from', branch['tier']) }} and ({{ branch['owners'] }})
        )
        {%- endif %}
        {%- if earliest %}
        and events.event_ts >= {{ earliest }}
        {%- elif execute and model.get('resource_type') != 'unit_test' %}
        -- nobody of this group to rebuild
        and 1 = 0
        {%- endif %}
    {%- endfor %}

),

resessionized as (

    select * from (
        {{ reengage.sessionize_events('in_scope') }}
    ) as sessionized

)

{{ contract_columns('resessionized') }}
