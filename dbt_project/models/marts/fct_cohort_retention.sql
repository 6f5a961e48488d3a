{% set cohort_weeks = var('cohort_lookback_weeks') | int %}

with

customers as (

    select * from {{ ref('stg_crm__customers') }}

),

daily_activity as (

    select * from {{ ref('fct_user_daily_activity') }}

),

cohorts as (

    -- signup-week cohorts of the last {{ cohort_weeks }} weeks (ISO weeks, Monday first)
    select
        customer_id,
        cast({{ dbt.date_trunc('week', 'signup_at') }} as date) as cohort_week
    from customers
    where
        signup_at is not null
        and cast({{ dbt.date_trunc('week', 'signup_at') }} as date)
        >= cast({{ dbt.date_trunc('week', window_start(cohort_weeks * 7)) }} as date)

),

cohort_sizes as (

    select
        cohort_week,
        count(*) as cohort_size
    from cohorts
    group by cohort_week

),

active_weeks as (

    -- a customer is active in a week with at least one active action. Only
    -- the cohorts' members: customers who signed up earlier are dropped
    -- before the distinct (half the time of this model at 50M events)
    select distinct
        customer_id,
        cast({{ dbt.date_trunc('week', 'activity_date') }} as date) as activity_week
    from daily_activity
    where
        customer_id in (select customer_id from cohorts)
        and active_action_count > 0
        and activity_date >= cast({{ dbt.date_trunc('week', window_start(cohort_weeks * 7)) }} as date)
        and activity_date <= {{ as_of_date() }}

),

digits as (

    select digit from (values (0), (1), (2), (3), (4), (5), (6), (7), (8), (9)) as t (digit)

),

week_numbers as (

    -- 0 .. 999, more than any cohort can be old here
    select ones.digit + 10 * tens.digit + 100 * hundreds.digit as week_number
    from digits as ones
    cross join digits as tens
    cross join digits as hundreds

),

grid as (

    -- every week from the signup week to the one holding D, active or not
    select
        cohort_sizes.cohort_week,
        cohort_sizes.cohort_size,
        week_numbers.week_number,
        cast({{ dbt.dateadd('day', '7 * week_numbers.week_number', 'cohort_sizes.cohort_week') }} as date)
            as week_start
    from cohort_sizes
    cross join week_numbers
    where {{ dbt.dateadd('day', '7 * week_numbers.week_number', 'cohort_sizes.cohort_week') }} <= {{ as_of_date() }}

),

retained as (

    select
        cohorts.cohort_week,
        active_weeks.activity_week,
        count(*) as active_customers
    from cohorts
    inner join active_weeks
        on
            cohorts.customer_id = active_weeks.customer_id
            and active_weeks.activity_week >= cohorts.cohort_week
    group by cohorts.cohort_week, active_weeks.activity_week

),

final as (

    select
        {{ dbt.hash(dbt.concat([
            "cast(grid.cohort_week as " ~ dbt.type_string() ~ ")", "'|'",
            "cast(grid.week_number as " ~ dbt.type_string() ~ ")"
        ])) }} as cohort_week_id,
        {{ as_of_date() }} as as_of_date,
        grid.cohort_week,
        grid.week_number,
        grid.week_start,
        grid.cohort_size,
        coalesce(retained.active_customers, 0) as active_customers,
        cast(coalesce(retained.active_customers, 0) as {{ reengage.type_double() }}) / grid.cohort_size
            as retention_rate,
        {{ dbt.dateadd('day', 6, 'grid.week_start') }} <= {{ as_of_date() }} as is_complete_week

    from grid
    left join retained
        on
            grid.cohort_week = retained.cohort_week
            and grid.week_start = retained.activity_week

)

{{ contract_columns('final') }}
