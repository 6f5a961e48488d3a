-- Migration 5: every decision records the probabilities of the day's random draws, the
-- targeting that chose it and when its message went or would have gone; uplift models write their
-- predictions per customer and campaign. The function in migrations.py moves an existing
-- decisions table aside first and copies its rows back: rows decided before keep nulls, since
-- their probabilities were never recorded and are not guessed.
create table if not exists interventions.decisions (
    run_date date not null,
    customer_id varchar not null,
    campaign_id varchar not null,
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

create table if not exists scoring.uplift_scores (
    customer_id varchar not null,
    campaign_id varchar not null,
    run_date date not null,
    predicted_uplift double not null,
    model_version varchar not null
);
