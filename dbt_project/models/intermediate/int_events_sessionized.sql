{{
    config(
        materialized='incremental',
        unique_key='event_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
    )
}}
{#
    Full build: every stitched event cut into sessions (macros/sessionize.sql).
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

    select * from (
        {{ reengage.sessionize_events(ref('int_events_stitched')) }}
    ) as all_sessions

)

{% endif %}

select * from sessionized
