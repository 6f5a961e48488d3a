{#- Twilio's statuses (ingest's SMS_MESSAGE_STATUSES): a refused row's status is read as ingest reads it. -#}
{%- set twilio_statuses = [
    'queued', 'sending', 'sent', 'delivered', 'undelivered', 'failed', 'canceled', 'scheduled', 'received'
] -%}

with

refused_rows as (

    {{ reengage.refused_rows('sms_events') }}

),

read_back as (

    select
        *,
        {{ reengage.named_as(reengage.refused_field('raw_record', 'MessageStatus'), twilio_statuses) }}
            as message_status,
        {{ reengage.refused_field('raw_record', 'To') }} as to_text,
        {{ reengage.refused_field('raw_record', 'From') }} as from_text,
        {{ reengage.refused_field('raw_record', 'ErrorCode') }} as error_code,
        upper({{ reengage.refused_field('raw_record', 'OptOutType') }}) as opt_out_type,
        {{ reengage.refused_field('raw_record', 'Body') }} as body,
        {{ reengage.refused_field('raw_record', 'Timestamp') }} as timestamp_text
    from refused_rows

),

final as (

    select
        refused_row_id,
        message_status,
        {{ reengage.sms_read_back_number(reengage.sms_recipient('message_status', 'to_text', 'from_text')) }}
            as phone,
        error_code,
        opt_out_type,
        {{ reengage.sms_is_opt_out('message_status', 'opt_out_type', 'body') }} as is_opt_out,
        {{ reengage.sms_is_permanent_failure('message_status', 'error_code') }} as is_permanent_failure,
        {{ reengage.to_utc_timestamp(reengage.try_iso_timestamp('timestamp_text')) }} as event_at,
        partition_date,
        source_file,
        source_row,
        refused_column,
        refusal_reason

    from read_back

)

select * from final
