{#- Events after which an address is never mailed again, strongest first: the
    order names the suppression when several share a second. A dropped message
    means SendGrid itself refuses the address (it bounced, unsubscribed,
    reported spam or is invalid). -#}
{%- set suppressing_events = ['spamreport', 'bounce', 'dropped', 'unsubscribe', 'group_unsubscribe'] -%}

with

email_events as (

    select * from {{ ref('stg_sendgrid__email_events') }}

),

refused_email_events as (

    select * from {{ ref('stg_sendgrid__refused_email_events') }}

),

suppressing_events as (

    select
        email,
        event as suppression_reason,
        event_at,
        reason as provider_reason,
        false as is_refused_row
    from email_events
    where event in ('{{ suppressing_events | join("', '") }}')

    union all

    -- Refused at ingest for another field, the address and the event can
    -- still be read: the address is suppressed all the same, from the event's
    -- time when it can be read and is not after its file's day, else from
    -- the start of the file's day.
    select
        email,
        event as suppression_reason,
        {{ reengage.refused_row_time('event_at', 'partition_date') }} as event_at,
        provider_reason,
        true as is_refused_row
    from refused_email_events
    where
        email is not null
        and event in ('{{ suppressing_events | join("', '") }}')

),

prioritised as (

    select
        *,
        case suppression_reason
            {%- for event in suppressing_events %}
            when '{{ event }}' then {{ loop.index }}
            {%- endfor %}
        end as reason_priority
    from suppressing_events

),

ranked as (

    select
        *,
        row_number() over (
            partition by email
            order by event_at, reason_priority
        ) as first_rank,
        row_number() over (
            partition by email
            order by event_at desc, reason_priority
        ) as last_rank
    from prioritised

),

summary as (

    select
        email,
        min(event_at) as first_suppressed_at,
        max(event_at) as last_suppressed_at,
        count(*) as suppression_event_count,
        {{ count_where('is_refused_row') }} as refused_event_count,
        max(case when suppression_reason = 'bounce' then 1 else 0 end) = 1 as has_bounced,
        max(case when suppression_reason = 'dropped' then 1 else 0 end) = 1 as has_been_dropped,
        max(case when suppression_reason = 'spamreport' then 1 else 0 end) = 1 as has_reported_spam,
        max(case when suppression_reason in ('unsubscribe', 'group_unsubscribe') then 1 else 0 end) = 1
            as has_unsubscribed
    from prioritised
    group by email

),

final as (

    select
        summary.email,
        {{ as_of_date() }} as as_of_date,
        first_event.suppression_reason,
        first_event.provider_reason,
        summary.first_suppressed_at,
        last_event.suppression_reason as latest_suppression_reason,
        summary.last_suppressed_at,
        summary.suppression_event_count,
        summary.refused_event_count,
        summary.has_bounced,
        summary.has_been_dropped,
        summary.has_reported_spam,
        summary.has_unsubscribed

    from summary
    inner join ranked as first_event
        on
            summary.email = first_event.email
            and first_event.first_rank = 1
    inner join ranked as last_event
        on
            summary.email = last_event.email
            and last_event.last_rank = 1

)

{{ contract_columns('final') }}
