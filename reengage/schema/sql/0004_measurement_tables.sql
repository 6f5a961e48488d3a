-- Migration 4: the day's experiment tables, which measurement used to recreate from its DataFrames
-- with whatever types pandas inferred. `if not exists`: a warehouse whose measurement never ran gets
-- them empty; migrations.py first moves an existing table's rows aside and puts them back converted.
-- Frozen: a later change of these tables is a new migration, never an edit here.

create schema if not exists measurement;

create table if not exists measurement.campaign_summary (
    run_date date not null,
    campaign_id varchar not null,
    variant varchar not null,
    arm varchar not null,
    assigned bigint,
    matured bigint,
    sent bigint,
    delivered bigint,
    opened bigint,
    clicked bigint,
    bounced bigint,
    spam_reported bigint,
    unsubscribed bigint,
    converted bigint,
    converted_matured bigint,
    click_through_rate double,
    conversion_rate double,
    revenue double,
    revenue_per_user double,
    median_hours_to_convert double,
    median_hours_to_click double
);

create table if not exists measurement.campaign_comparisons (
    run_date date not null,
    campaign_id varchar not null,
    comparison varchar not null,
    variant varchar not null,
    baseline varchar not null,
    metric varchar not null,
    n_baseline bigint,
    x_baseline bigint,
    n_variant bigint,
    x_variant bigint,
    value_baseline double,
    value_variant double,
    abs_lift double,
    abs_ci_low double,
    abs_ci_high double,
    rel_lift double,
    rel_ci_low double,
    rel_ci_high double,
    p_value double,
    p_adjusted double,
    prob_beat double,
    cuped_abs_lift double,
    cuped_ci_low double,
    cuped_ci_high double,
    cuped_p_value double,
    cuped_variance_reduction double,
    seq_looks bigint,
    seq_p_value double,
    seq_ci_low double,
    seq_ci_high double,
    seq_first_decision_date date,
    decision varchar
);

create table if not exists measurement.campaign_srm (
    run_date date not null,
    campaign_id varchar not null,
    cells varchar,
    observed varchar,
    expected varchar,
    chi2 double,
    p_value double,
    mismatch boolean
);

create table if not exists measurement.guardrail_metrics (
    run_date date not null,
    campaign_id varchar not null,
    variant varchar not null,
    metric varchar not null,
    numerator bigint,
    denominator bigint,
    rate double,
    ci_low double,
    ci_high double,
    holdout_rate double,
    excess double,
    limit_value double,
    breached boolean
);

create table if not exists measurement.campaign_daily (
    run_date date not null,
    campaign_id varchar not null,
    assigned_date date not null,
    matured boolean,
    n_treatment bigint,
    n_holdout bigint,
    open_rate double,
    click_rate double,
    conversion_treatment double,
    conversion_holdout double,
    abs_lift double,
    abs_ci_low double,
    abs_ci_high double
);
