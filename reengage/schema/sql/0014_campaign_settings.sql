-- Migration 14: the settings each campaign's measurement used on a run date (level, sequential
-- test scale, users per arm), so the report judges by the same ones.
create table if not exists measurement.campaign_settings (
    run_date date not null,
    campaign_id varchar not null,
    alpha double not null,
    msprt_tau double not null,
    min_per_arm bigint not null
);
