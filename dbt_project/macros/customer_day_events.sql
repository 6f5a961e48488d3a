{% macro customer_day_events() %}
{#-
    The events a per-customer-day rollup (materialized with the rebuild_owner_tails
    strategy, since activity_date) is computed from. On an incremental run: whole days
    from each rebuilt customer's rebuild date on, because every event of those days was
    recomputed (int_session_rebuilds) and the strategy first deletes the customer's
    stored days from that date. On a full build: every customer's sessionized events.
    The calling model keeps a `-- depends_on:` line for the incremental refs, which
    dbt's parser (is_incremental() is false there) would not see.
-#}
{% if is_incremental() %}
    select resessionized.*
    from {{ ref('int_events_resessionized') }} as resessionized
    inner join {{ ref('int_session_rebuilds') }} as rebuilds
        on
            resessionized.customer_id = rebuilds.customer_id
            and resessionized.event_date >= rebuilds.rebuild_from_date
{% else %}
    select *
    from {{ ref('int_events_sessionized') }}
    where customer_id is not null
{% endif %}
{% endmacro %}
