-- Migration 1: every table the Python stages wrote before the schema was versioned, exactly as
-- each stage created it then. `if not exists` throughout: a fresh warehouse gets them all, and
-- one built by an earlier version keeps its tables and rows and gains only the missing ones.
-- Frozen: a later change of a table is a new migration, never an edit here.
-- delivery.campaign_sends is not here: the first delivery creates it (declared.py says why).

create schema if not exists operations;
create schema if not exists raw;
create schema if not exists scoring;
create schema if not exists interventions;
create schema if not exists measurement;
create schema if not exists privacy;

create table if not exists operations.warehouse_builds (
    build_id varchar not null,
    run_date date not null,
    start_date date not null,
    full_refresh boolean not null,
    started_at timestamptz not null,
    completed_at timestamptz
);

create table if not exists operations.warehouse_meanings (
    setting varchar not null primary key,
    digest varchar not null,
    build_id varchar not null,
    recorded_at timestamptz not null
);

create table if not exists operations.step_inputs (
    step varchar not null,
    run_date date not null,
    fingerprint varchar not null,
    output varchar not null,
    run_id varchar not null,
    recorded_at timestamptz not null
);

create table if not exists raw.customers (
    "customer_id" varchar,
    "email" varchar,
    "first_name" varchar,
    "country" varchar,
    "timezone" varchar,
    "signup_at" timestamptz,
    "plan" varchar,
    "lifetime_value" double,
    "marketing_consent" boolean,
    "consent_updated_at" timestamptz,
    "updated_at" timestamptz,
    _source_file varchar,
    _source_row bigint,
    _partition_date date,
    _loaded_at timestamptz
);

create table if not exists raw.events (
    "event_id" varchar,
    "user_id" varchar,
    "anonymous_id" varchar,
    "event_name" varchar,
    "event_ts" timestamptz,
    "page" varchar,
    "product_id" varchar,
    "category" varchar,
    "value" double,
    "device" varchar,
    "channel" varchar,
    _source_file varchar,
    _source_row bigint,
    _partition_date date,
    _loaded_at timestamptz
);

create table if not exists raw.email_events (
    "email" varchar,
    "event" varchar,
    "timestamp" timestamptz,
    "sg_message_id" varchar,
    "sg_event_id" varchar,
    "send_id" varchar,
    "campaign_id" varchar,
    "variant" varchar,
    "run_date" date,
    "reason" varchar,
    _source_file varchar,
    _source_row bigint,
    _partition_date date,
    _loaded_at timestamptz
);

create table if not exists raw.quarantine (
    source varchar,
    file varchar,
    row bigint,
    "column" varchar,
    reason varchar,
    raw_record varchar,
    _partition_date date,
    _loaded_at timestamptz
);

create table if not exists scoring.churn_scores (
    customer_id varchar not null,
    run_date date not null,
    churn_probability double not null,
    model_version varchar not null
);

create table if not exists scoring.preferred_send_hours (
    customer_id varchar not null,
    run_date date not null,
    preferred_local_hour integer not null,
    source varchar not null,
    activity_slots integer not null
);

create table if not exists scoring.behaviour_clusters (
    customer_id varchar not null,
    run_date date not null,
    cluster_id integer not null,
    cluster_label varchar not null
);

create table if not exists interventions.decisions (
    run_date date not null,
    customer_id varchar not null,
    campaign_id varchar not null,
    outcome varchar not null,
    reason varchar not null,
    priority integer not null,
    churn_probability double
);

create table if not exists interventions.intervention_list (
    send_id varchar not null,
    run_date date not null,
    customer_id varchar not null,
    email varchar not null,
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

create table if not exists measurement.campaign_results (
    run_date date,
    campaign_id varchar,
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

create table if not exists measurement.campaign_guardrails (
    campaign_id varchar not null,
    run_date date not null,
    paused boolean not null,
    reason varchar
);

create table if not exists measurement.assignment_outcomes (
    send_id varchar,
    run_date date,
    customer_id varchar,
    campaign_id varchar,
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

create table if not exists privacy.forget_list (
    key_hash varchar not null,
    key_kind varchar not null,
    request_id varchar not null,
    added_at timestamptz not null
);

create table if not exists privacy.forget_list_pepper (
    fingerprint varchar not null,
    recorded_at timestamptz not null
);

-- As the erasure wrote it before file_rewritten_at existed; migration 2 adds that column.
create table if not exists privacy.erasure_audit (
    request_id varchar not null,
    subject_hash varchar not null,
    subject_kind varchar not null,
    requested_by varchar not null,
    request_source varchar not null,
    requested_at timestamptz not null,
    completed_at timestamptz not null,
    identifiers_forgotten integer not null,
    rows_removed bigint not null,
    rows_removed_by_table varchar not null
);
