-- Migration 12: each campaign's results per channel, the held-out users compared on the channel the
-- policy would have reached them on (one set of rows per run date).
create table if not exists measurement.campaign_channels (
    run_date date not null,
    campaign_id varchar not null,
    channel varchar not null,
    treated bigint,
    held_out bigint,
    sent bigint,
    delivered bigint,
    failed bigint,
    opted_out bigint,
    opt_out_rate double,
    holdout_opt_out_rate double,
    opened bigint,
    clicked bigint,
    click_through_rate double,
    matured_treated bigint,
    converted_treated bigint,
    matured_held_out bigint,
    converted_held_out bigint,
    conversion_treated double,
    conversion_held_out double,
    abs_lift double,
    abs_ci_low double,
    abs_ci_high double,
    p_value double,
    enough_users boolean
);
