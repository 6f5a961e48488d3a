{% macro owner_day_events(owner_column) %}
{#-
    The events a per-owner-day rollup (materialized with the rebuild_owner_tails
    strategy, since activity_date) is computed from. `owner_column` is the owner key
    the rollup shares with int_session_rebuilds: customer_id for the per-customer
    tables, session_owner for the per-visitor one (customers and anonymous devices).
    On an incremental run: whole days from each rebuilt owner's rebuild date on,
    because every event of those days was recomputed (int_session_rebuilds) and the
    strategy first deletes the owner's stored days from that date. On a full build:
    every owner's sessionized events.
    The calling model keeps a `-- depends_on:` line for the incremental refs, which
    dbt's parser (is_incremental() is false there) would not see.
-#}
{% if is_incremental() %}
    select resessionized.*
    from {{ ref('int_events_resessionized') }} as resessionized
    inner join {{ ref('int_session_rebuilds') }} as rebuilds
        on
            resessionized.{{ owner_column }} = rebuilds.{{ owner_column }}
            and resessionized.event_date >= rebuilds.rebuild_from_date
{% else %}
    select *
    from {{ ref('int_events_sessionized') }}
    where {{ owner_column }} is not null
{% endif %}
{% endmacro %}
