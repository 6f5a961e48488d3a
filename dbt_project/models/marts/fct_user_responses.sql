{#- How customers answered campaign messages (emails and texts), as of the end
    of D: the provider events that are a person's reaction to a message, and
    conversions (a purchase within the window after a message reached them).
    The policy pauses everyone with a recent response (paused_after_response);
    the meanings, and how they differ from measurement's, are in the YAML. -#}
{%- set email_responses = ['open', 'click', 'unsubscribe', 'group_unsubscribe', 'spamreport'] -%}
{#- Proof that a message reached its recipient: delivered, or an open or click
    when the delivered record is missing. -#}
{%- set reaching_events = ['delivered', 'open', 'click'] -%}

with

email_events as (

    select * from {{ ref('stg_sendgrid__email_events') }}

),

sms_events as (

    select * from {{ ref('stg_twilio__sms_events') }}

),

customers as (

    select * from {{ ref('stg_crm__customers') }}

),

stitched_events as (

    select * from {{ ref('int_events_stitched') }}

),

campaign_mail_events as (

    -- Mail the pipeline sent carries its send_id custom arg; other mail of the
    -- account (receipts, password resets) does not, and is no campaign response.
    select
        send_id,
        campaign_id,
        variant,
        run_date as message_run_date,
        email,
        event,
        event_at
    from email_events
    where
        send_id is not null
        and event_at < {{ as_of_end() }}

),

recipients as (

    -- The customer an address belongs to in the CRM as of D (the webhook
    -- carries no customer id). An address two customers share names both.
    select
        mail.*,
        customers.customer_id
    from campaign_mail_events as mail
    inner join customers
        on mail.email = customers.email

),

campaign_texts as (

    -- Texts the pipeline sent carry its send_id, campaign, variant and run
    -- date in the status callback URL (as an email's custom args do);
    -- replies and texts of other senders do not.
    select
        send_id,
        campaign_id,
        variant,
        message_run_date,
        phone,
        message_status,
        event_at
    from sms_events
    where
        send_id is not null
        and event_at < {{ as_of_end() }}

),

text_recipients as (

    -- The customer a number belongs to in the CRM as of D, as for an address.
    select
        texts.*,
        customers.customer_id
    from campaign_texts as texts
    inner join customers
        on texts.phone = customers.phone

),

email_messages as (

    select
        customer_id,
        send_id,
        'email' as channel,
        min(campaign_id) as campaign_id,
        min(variant) as variant,
        min(message_run_date) as message_run_date,
        min(case when event in ('{{ reaching_events | join("', '") }}') then event_at end) as reached_at,
        min(event_at) as first_event_at
    from recipients
    group by customer_id, send_id

),

text_messages as (

    -- A text reached its recipient when Twilio reported it delivered; an
    -- undelivered or failed text reached nobody.
    select
        customer_id,
        send_id,
        'sms' as channel,
        min(campaign_id) as campaign_id,
        min(variant) as variant,
        min(message_run_date) as message_run_date,
        min(case when message_status = 'delivered' then event_at end) as reached_at,
        min(event_at) as first_event_at,
        min(phone) as phone
    from text_recipients
    group by customer_id, send_id

),

messages as (

    -- One row per message and recipient: its channel, and when it reached them.
    {%- set message_columns = 'customer_id, send_id, channel, campaign_id, variant, message_run_date, reached_at' %}
    select {{ message_columns }} from email_messages
    union all
    select {{ message_columns }} from text_messages

),

stop_replies as (

    -- A STOP reply carries no send id: it answers the latest campaign text
    -- to its number before it (the text's unsubscribe, the opt-out guardrail).
    select
        replies.event_at as responded_at,
        texts.customer_id,
        texts.send_id,
        row_number() over (
            partition by replies.sms_event_id, texts.customer_id
            order by texts.first_event_at desc, texts.send_id
        ) as recency
    from sms_events as replies
    inner join text_messages as texts
        on
            replies.phone = texts.phone
            and texts.first_event_at < replies.event_at
    where
        replies.is_opt_out
        and replies.event_at < {{ as_of_end() }}

),

text_responses as (

    select
        customer_id,
        send_id,
        'unsubscribe' as response_type,
        min(responded_at) as responded_at
    from stop_replies
    where recency = 1
    group by customer_id, send_id

),

email_responses as (

    select
        customer_id,
        send_id,
        event as response_type,
        min(event_at) as responded_at
    from recipients
    where event in ('{{ email_responses | join("', '") }}')
    group by customer_id, send_id, event

),

conversion_events as (

    select
        customer_id,
        event_ts
    from stitched_events
    where
        customer_id is not null
        and event_name = '{{ var("response_conversion_event") }}'
        and event_ts < {{ as_of_end() }}

),

conversions as (

    -- The first conversion event after the message reached the customer and
    -- at most response_conversion_window_days later (to the second).
    select
        messages.customer_id,
        messages.send_id,
        'conversion' as response_type,
        min(conversion_events.event_ts) as responded_at
    from messages
    inner join conversion_events
        on
            messages.customer_id = conversion_events.customer_id
            and conversion_events.event_ts > messages.reached_at
            and conversion_events.event_ts
            <= {{ dbt.dateadd('day', var('response_conversion_window_days') | int, 'messages.reached_at') }}
    group by messages.customer_id, messages.send_id

),

responses as (

    select * from email_responses
    union all
    select * from text_responses
    union all
    select * from conversions

),

final as (

    select
        {{ dbt.hash(dbt.concat(["responses.customer_id", "'|'", "responses.send_id", "'|'", "responses.response_type"])) }}
            as response_id,
        responses.customer_id,
        responses.send_id,
        messages.channel,
        messages.campaign_id,
        messages.variant,
        messages.message_run_date,
        responses.response_type,
        responses.responded_at,
        messages.reached_at,
        {{ as_of_date() }} as as_of_date

    from responses
    inner join messages
        on
            responses.customer_id = messages.customer_id
            and responses.send_id = messages.send_id

)

{{ contract_columns('final') }}
