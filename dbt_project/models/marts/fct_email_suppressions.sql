with

email_events as (

    select * from {{ ref('stg_sendgrid__email_events') }}

),

suppressing_events as (

    select
        email,
        event as suppression_reason,
        event_at,
        reason as provider_reason,
        -- same-second events: the strongest signal names the suppression
        case event
            when 'spamreport' then 1
            when 'bounce' then 2
            when 'unsubscribe' then 3
            when 'group_unsubscribe' then 4
        end as reason_priority
    from email_events
    where event in ('bounce', 'spamreport', 'unsubscribe', 'group_unsubscribe')

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
    from suppressing_events

),

summary as (

    select
        email,
        min(event_at) as first_suppressed_at,
        max(event_at) as last_suppressed_at,
        count(*) as suppression_event_count,
        max(case when suppression_reason = 'bounce' then 1 else 0 end) = 1 as has_bounced,
        max(case when suppression_reason = 'spamreport' then 1 else 0 end) = 1 as has_reported_spam,
        max(case when suppression_reason in ('unsubscribe', 'group_unsubscribe') then 1 else 0 end) = 1
            as has_unsubscribed
    from suppressing_events
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
        summary.has_bounced,
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

select * from final
