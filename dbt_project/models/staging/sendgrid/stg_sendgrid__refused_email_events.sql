{#- The webhook's event types (ingest's EMAIL_EVENT_TYPES): a refused row's type is read as ingest reads it. -#}
{%- set sendgrid_event_types = [
    'processed', 'delivered', 'open', 'click', 'bounce', 'dropped', 'deferred',
    'spamreport', 'unsubscribe', 'group_unsubscribe', 'group_resubscribe'
] -%}

with

refused_rows as (

    {{ reengage.refused_rows('email_events') }}

),

read_back as (

    select
        *,
        lower({{ reengage.refused_field('raw_record', 'email') }}) as email,
        {{ reengage.named_as(reengage.refused_field('raw_record', 'event'), sendgrid_event_types) }} as event,
        {{ reengage.refused_field('raw_record', 'timestamp') }} as timestamp_text,
        {{ reengage.refused_field('raw_record', 'reason') }} as provider_reason
    from refused_rows

),

final as (

    select
        refused_row_id,
        email,
        event,
        {{ reengage.to_utc_timestamp(reengage.try_unix_timestamp('timestamp_text')) }} as event_at,
        provider_reason,
        partition_date,
        source_file,
        source_row,
        refused_column,
        refusal_reason

    from read_back

)

select * from final
