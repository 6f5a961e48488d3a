-- Migration 9: measurement groups its daily results by channel and records the channel of each user's
-- first assignment. The function in migrations.py moves each existing table aside first and copies its
-- rows back as emails, which every message measured before was.
create table if not exists measurement.campaign_results (
    run_date date,
    campaign_id varchar,
    channel varchar,
    variant varchar,
    arm varchar,
    assigned bigint,
    sent bigint,
    delivered bigint,
    opened bigint,
    clicked bigint,
    unsubscribed bigint,
    converted bigint,
    click_rate double,
    conversion_rate double,
    computed_at timestamptz
);

create table if not exists measurement.assignment_outcomes (
    send_id varchar,
    run_date date,
    customer_id varchar,
    campaign_id varchar,
    channel varchar,
    variant varchar,
    arm varchar,
    assignments integer,
    scheduled_at timestamp,
    window_end_at timestamp,
    matured boolean,
    sent boolean,
    delivered boolean,
    opened boolean,
    clicked boolean,
    bounced boolean,
    spam_reported boolean,
    unsubscribed boolean,
    converted boolean,
    hours_to_open double,
    hours_to_click double,
    hours_to_convert double,
    revenue double,
    pre_active_days integer,
    as_of date
);
