{#
    The devices whose stitched anonymous events this run may re-attribute:
    devices seen logged in within the run's window (its raw rows, see
    macros/incremental/window.sql) whose mapping may have moved — linked to several
    customers, or linked for the first time now. A device only ever linked
    to one customer, before, cannot change hands. With the customer each now
    maps to (int_identity_map).

    int_events_stitched re-stitches those devices' stored anonymous events
    (strategy append_with_relinks), and int_session_rebuilds rebuilds the
    sessions they leave and join. A full refresh stitches every event
    afresh and does not read this table.
#}

with

window_rows as (

    select * from {{ reengage.raw_events_of_window() }} as raw_window

),

window_logins as (

    -- ids trimmed as staging does
    select distinct nullif(trim(anonymous_id), '') as anonymous_id
    from window_rows
    where
        nullif(trim(user_id), '') is not null
        and nullif(trim(anonymous_id), '') is not null

),

identity_map as (

    select * from {{ ref('int_identity_map') }}

),

final as (

    select
        identity_map.anonymous_id,
        identity_map.customer_id

    from identity_map
    inner join window_logins
        on identity_map.anonymous_id = window_logins.anonymous_id
    where
        identity_map.linked_customer_count > 1
        or identity_map.first_linked_partition_date >= {{ reengage.incremental_window_start() }}
        or cast(identity_map.first_identified_at as date) >= {{ reengage.incremental_window_start() }}

)

{{ contract_columns('final') }}
