{#- Why a number is never texted again, strongest first: the order names the
    suppression when several share a second. -#}
{%- set suppression_reasons = ['stop_reply', 'unsubscribed_recipient', 'permanent_failure'] -%}

with

sms_events as (

    select * from {{ ref('stg_twilio__sms_events') }}

),

refused_sms_events as (

    select * from {{ ref('stg_twilio__refused_sms_events') }}

),

suppressing_events as (

    select
        phone,
        {{ reengage.sms_suppression_reason('is_opt_out', 'error_code') }} as suppression_reason,
        event_at,
        error_code,
        false as is_refused_row
    from sms_events
    where
        phone is not null
        and (is_opt_out or is_permanent_failure)

    union all

    -- Refused at ingest (a malformed number, a bad timestamp, ...), an opt-out
    -- or a permanent failure whose number can be read back still suppresses
    -- it: from the event's time when it can be read and is not after its
    -- file's day, else from the start of the file's day.
    select
        phone,
        {{ reengage.sms_suppression_reason('is_opt_out', 'error_code') }} as suppression_reason,
        {{ reengage.refused_row_time('event_at', 'partition_date') }} as event_at,
        error_code,
        true as is_refused_row
    from refused_sms_events
    where
        phone is not null
        and (is_opt_out or is_permanent_failure)

),

opt_ins as (

    select
        phone,
        max(event_at) as last_opted_in_at
    from sms_events
    where is_opt_in and phone is not null
    group by phone

),

prioritised as (

    select
        *,
        case suppression_reason
            {%- for reason in suppression_reasons %}
            when '{{ reason }}' then {{ loop.index }}
            {%- endfor %}
        end as reason_priority
    from suppressing_events

),

ranked as (

    select
        *,
        row_number() over (
            partition by phone
            order by event_at, reason_priority
        ) as first_rank
    from prioritised

),

summary as (

    select
        phone,
        min(event_at) as first_suppressed_at,
        max(event_at) as last_suppressed_at,
        count(*) as suppression_event_count,
        {{ count_where('is_refused_row') }} as refused_event_count,
        max(case when suppression_reason = 'stop_reply' then 1 else 0 end) = 1 as has_replied_stop,
        max(case when suppression_reason != 'stop_reply' then 1 else 0 end) = 1 as has_failed_permanently
    from prioritised
    group by phone

),

final as (

    select
        summary.phone,
        {{ as_of_date() }} as as_of_date,
        first_event.suppression_reason,
        first_event.error_code,
        summary.first_suppressed_at,
        summary.last_suppressed_at,
        summary.suppression_event_count,
        summary.refused_event_count,
        summary.has_replied_stop,
        summary.has_failed_permanently,
        coalesce(opt_ins.last_opted_in_at > summary.first_suppressed_at, false) as has_replied_start_since

    from summary
    inner join ranked as first_event
        on
            summary.phone = first_event.phone
            and first_event.first_rank = 1
    left join opt_ins
        on summary.phone = opt_ins.phone

)

{{ contract_columns('final') }}
