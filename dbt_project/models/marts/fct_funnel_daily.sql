{% set funnel_days = var('funnel_lookback_days') | int %}

with

visitor_days as (

    -- each visitor's deepest step per day, kept up to date by the daily runs
    select * from {{ ref('int_visitor_funnel_days') }}

),

event_catalog as (

    select * from {{ ref('event_catalog') }}

),

steps as (

    select distinct
        funnel_step,
        funnel_step_order
    from event_catalog
    where funnel_step is not null

),

deepest_steps as (

    -- each visitor's (customer, else device) deepest funnel step per day; a
    -- customer id equal to a device id counts as one visitor, as it always has
    select
        activity_date as event_date,
        coalesce(customer_id, anonymous_id) as visitor_id,
        max(deepest_funnel_step_order) as deepest_step_order
    from visitor_days
    where
        activity_date >= {{ window_start(funnel_days) }}
        and activity_date <= {{ as_of_date() }}
    group by activity_date, coalesce(customer_id, anonymous_id)

),

deepest_counts as (

    select
        event_date,
        deepest_step_order,
        count(*) as visitor_count
    from deepest_steps
    group by event_date, deepest_step_order

),

days as (

    select distinct event_date from deepest_counts

),

reached as (

    -- a visitor who got to step k counts as reaching every step before it
    select
        days.event_date,
        steps.funnel_step,
        steps.funnel_step_order,
        cast(coalesce(sum(deepest_counts.visitor_count), 0) as {{ dbt.type_bigint() }}) as visitors
    from days
    cross join steps
    left join deepest_counts
        on
            days.event_date = deepest_counts.event_date
            and deepest_counts.deepest_step_order >= steps.funnel_step_order
    group by days.event_date, steps.funnel_step, steps.funnel_step_order

),

with_previous as (

    select
        *,
        lag(visitors) over (partition by event_date order by funnel_step_order) as previous_step_visitors,
        first_value(visitors) over (partition by event_date order by funnel_step_order) as first_step_visitors
    from reached

),

final as (

    select
        {{ dbt.hash(dbt.concat([
            "cast(event_date as " ~ dbt.type_string() ~ ")", "'|'", "funnel_step"
        ])) }} as funnel_day_step_id,
        event_date as funnel_date,
        funnel_step,
        funnel_step_order,
        visitors,
        previous_step_visitors,
        case
            when previous_step_visitors > 0
                then cast(visitors as {{ reengage.type_double() }}) / previous_step_visitors
        end as step_conversion_rate,
        case
            when previous_step_visitors > 0
                then 1 - cast(visitors as {{ reengage.type_double() }}) / previous_step_visitors
        end as step_drop_off_rate,
        case
            when first_step_visitors > 0
                then cast(visitors as {{ reengage.type_double() }}) / first_step_visitors
        end as overall_conversion_rate

    from with_previous

)

{{ contract_columns('final') }}
