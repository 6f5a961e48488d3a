{{
    config(
        materialized='incremental',
        unique_key='event_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
    )
}}
{#
    Full build: every stitched event cut into sessions (macros/sessionize.sql),
    the owners split into branches by the id their sessions belong to.
    Incremental run: the owners' events int_events_resessionized recomputed
    replace the stored ones by event_id (which also moves an event away from
    the owner it belonged to before); each owner's earlier sessions cannot
    change and stay as stored.
#}

with

{% if is_incremental() %}

sessionized as (

    select * from {{ ref('int_events_resessionized') }}

)

{% else %}

-- depends_on: {{ ref('int_events_resessionized') }}
sessionized as (

    -- owner by owner in a few branches, each within DuckDB's memory (macros/owner_buckets.sql)
    {% call(owner_filter) reengage.union_all_owner_buckets('sessionize', 'coalesce(customer_id, anonymous_id)') -%}
        {{ reengage.sessionize_events(ref('int_events_stitched'), owner_filter) }}
    {%- endcall %}

)

{% endif %}

select * from sessionized
