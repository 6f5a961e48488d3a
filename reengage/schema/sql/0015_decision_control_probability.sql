-- Migration 15: each decision records control_probability, the chance the day's draws held it back
-- from the campaign for good (the global holdout, or the campaign holdout among assigned rows): the
-- comparison arm of the uplift models and of the estimates of a targeting. The function in
-- migrations.py moves the existing table aside and copies its rows back with the new column null:
-- the policy of those days is gone, so it is never recomputed.
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
    control_probability double,
    assignment_probability double,
    exploration boolean,
    targeting varchar,
    predicted_uplift double,
    uplift_model_version varchar,
    scheduled_send_at_utc timestamptz
);
