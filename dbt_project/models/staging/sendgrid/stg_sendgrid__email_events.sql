-- A table, not a view like most staging models: six data tests, two models and
-- the measurement stage read it, and each read of a view would deduplicate every
-- email event ever received again (the largest raw table after the events).
{{ config(materialized='table') }}

with

email_events as (

    select * from {{ source('raw', 'email_events') }}

),

renamed as (

    select
        lower(trim(email)) as email,
        lower(trim(event)) as event,
        {{ to_utc_timestamp(adapter.quote('timestamp')) }} as event_at,
        sg_message_id,
        sg_event_id,
        send_id,
        campaign_id,
        variant,
        run_date,
        reason,
        _partition_date,
        _loaded_at,
        _source_file,
        _source_row
    from email_events

),

keyed as (

    -- Webhooks are retried, so one event of one send can arrive several times.
    -- Records without our send_id (e.g. an unsubscribe from the preference
    -- centre) fall back to SendGrid's message id, then to the address.
    select
        *,
        coalesce(
            {{ dbt.concat(["'send:'", "send_id"]) }},
            {{ dbt.concat(["'message:'", "sg_message_id"]) }},
            {{ dbt.concat(["'email:'", "email"]) }}
        ) as delivery_key
    from renamed

),

first_received as (

    select
        *,
        row_number() over (
            partition by delivery_key, event
            order by event_at, _loaded_at, _source_file, _source_row
        ) as copy_rank
    from keyed

),

final as (

    select
        {{ dbt.hash(dbt.concat(["delivery_key", "'|'", "event"])) }} as email_event_id,
        email,
        event,
        event_at,
        sg_message_id,
        sg_event_id,
        send_id,
        campaign_id,
        variant,
        run_date,
        reason

    from first_received
    where
        copy_rank = 1
        and event_at < {{ as_of_end() }}

)

{{ contract_columns('final') }}
