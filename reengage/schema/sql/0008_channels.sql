-- Migration 8: decisions and the intervention list name the channel of each message; the list keeps
-- the channel's contact key in `contact` instead of an `email` column. The function in migrations.py
-- moves each existing table aside first and copies its rows back: every row stored before is an
-- email, and a listed row's contact is the address it held.
create table if not exists interventions.decisions (
    run_date date not null,
    customer_id varchar not null,
    campaign_id varchar not null,
    channel varchar not null,
    outcome varchar not null,
    reason varchar not null,
    priority integer not null,
    churn_probability double,
    treatment_probability double,
    selection_probability double,
    assignment_probability double,
    exploration boolean,
    targeting varchar,
    predicted_uplift double,
    uplift_model_version varchar,
    scheduled_send_at_utc timestamptz
);

create table if not exists interventions.intervention_list (
    send_id varchar not null,
    run_date date not null,
    customer_id varchar not null,
    channel varchar not null,
    contact varchar not null,
    first_name varchar,
    timezone varchar not null,
    campaign_id varchar not null,
    variant varchar not null,
    arm varchar not null,
    template_id varchar,
    subject varchar,
    body varchar,
    template_data varchar not null,
    scheduled_send_at_utc timestamptz not null,
    scheduled_send_at_local varchar not null,
    priority integer not null,
    churn_probability double
);
