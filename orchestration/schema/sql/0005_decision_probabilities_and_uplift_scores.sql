-- Migration 5: every decision records the probabilities of the day's random draws and the
-- targeting that chose it; uplift models write their predictions per customer and campaign.
-- Rows decided before keep nulls: their probabilities were never recorded and are not guessed.
alter table interventions.decisions add column if not exists treatment_probability double;
alter table interventions.decisions add column if not exists assignment_probability double;
alter table interventions.decisions add column if not exists exploration boolean;
alter table interventions.decisions add column if not exists targeting varchar;
alter table interventions.decisions add column if not exists predicted_uplift double;
alter table interventions.decisions add column if not exists uplift_model_version varchar;
alter table interventions.decisions add column if not exists scheduled_send_at_utc timestamptz;
create table if not exists scoring.uplift_scores (
    "customer_id" varchar not null,
    "campaign_id" varchar not null,
    "run_date" date not null,
    "predicted_uplift" double not null,
    "model_version" varchar not null
);
