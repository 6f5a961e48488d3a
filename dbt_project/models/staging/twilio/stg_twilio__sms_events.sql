-- A table, not a view: its data tests and fct_sms_suppressions read it, and
-- each read of a view would deduplicate every callback ever received again.
{{ config(materialized='table') }}

with

sms_events as (

    select * from {{ source('raw', 'sms_events') }}

),

renamed as (

    select
        trim({{ adapter.quote('EventId') }}) as sms_event_id,
        trim({{ adapter.quote('MessageSid') }}) as message_sid,
        {{ to_utc_timestamp(adapter.quote('Timestamp')) }} as event_at,
        lower(trim({{ adapter.quote('MessageStatus') }})) as message_status,
        nullif(trim({{ adapter.quote('To') }}), '') as to_number,
        nullif(trim({{ adapter.quote('From') }}), '') as from_number,
        nullif(trim({{ adapter.quote('ErrorCode') }}), '') as error_code,
        upper(nullif(trim({{ adapter.quote('OptOutType') }}), '')) as opt_out_type,
        {{ adapter.quote('Body') }} as body,
        nullif(trim(send_id), '') as send_id,
        nullif(trim(campaign_id), '') as campaign_id,
        nullif(trim(variant), '') as variant,
        run_date as message_run_date,
        _loaded_at,
        _source_file,
        _source_row
    from sms_events

),

first_received as (

    -- Twilio retries a callback its receiver did not acknowledge, so one
    -- record can arrive (and be exported) several times: keep the first copy.
    select
        *,
        row_number() over (
            partition by sms_event_id
            order by _loaded_at, _source_file, _source_row
        ) as copy_rank
    from renamed

),

final as (

    select
        sms_event_id,
        message_sid,
        event_at,
        message_status,
        {{ reengage.sms_recipient('message_status', 'to_number', 'from_number') }} as phone,
        error_code,
        opt_out_type,
        {{ reengage.sms_is_opt_out('message_status', 'opt_out_type', 'body') }} as is_opt_out,
        {{ reengage.sms_is_opt_in('message_status', 'opt_out_type', 'body') }} as is_opt_in,
        {{ reengage.sms_is_permanent_failure('message_status', 'error_code') }} as is_permanent_failure,
        send_id,
        campaign_id,
        variant,
        message_run_date

    from first_received
    where
        copy_rank = 1
        and event_at < {{ as_of_end() }}

)

{{ contract_columns('final') }}
