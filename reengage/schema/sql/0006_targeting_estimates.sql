-- Migration 6: what each candidate targeting would have achieved for a campaign, judged on its
-- logged randomized decisions (one set of rows per campaign and run date judged on).
create table if not exists measurement.targeting_estimates (
    run_date date not null,
    campaign_id varchar not null,
    targeting varchar not null,
    sends_per_1000 double not null,
    incremental_per_1000 double not null,
    incremental_per_1000_low double not null,
    incremental_per_1000_high double not null,
    incremental_total double not null,
    decisions bigint not null,
    first_day date not null,
    last_day date not null
);
