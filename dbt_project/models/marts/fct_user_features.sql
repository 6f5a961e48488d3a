{% set short_days = var('feature_window_days') | int %}
{% set long_days = var('long_window_days') | int %}

with

customers as (

    select * from {{ ref('stg_crm__customers') }}

),

dormancy as (

    select * from {{ ref('fct_user_dormancy') }}

),

flags as (

    select * from {{ ref('fct_user_behaviour_flags') }}

),

sessions as (

    select * from {{ ref('fct_sessions') }}

),

daily_activity as (

    select * from {{ ref('fct_user_daily_activity') }}

),

events as (

    select * from {{ ref('int_events_stitched') }}

),

session_counts as (

    select
        customer_id,
        count(*) as sessions_28d
    from sessions
    where
        customer_id is not null
        and session_date >= {{ window_start(short_days) }}
        and session_date <= {{ as_of_date() }}
    group by customer_id

),

activity_counts as (

    select
        customer_id,
        cast(
            sum(case when activity_date >= {{ window_start(short_days) }} then event_count else 0 end)
            as {{ dbt.type_bigint() }}
        ) as events_28d,
        cast(sum(purchase_count) as {{ dbt.type_bigint() }}) as purchases_90d,
        sum(revenue) as revenue_90d
    from daily_activity
    where
        activity_date >= {{ window_start(long_days) }}
        and activity_date <= {{ as_of_date() }}
    group by customer_id

),

category_counts as (

    -- (each CTE below reads the events itself: a shared CTE would be
    -- materialized with every event of the window)
    select
        customer_id,
        category,
        count(*) as event_count,
        max(event_ts) as last_event_at
    from events
    where
        customer_id is not null
        and category is not null
        and event_date >= {{ window_start(long_days) }}
        and event_date <= {{ as_of_date() }}
    group by customer_id, category

),

category_ranking as (

    select
        customer_id,
        category,
        row_number() over (
            partition by customer_id
            order by event_count desc, last_event_at desc, category
        ) as category_rank
    from category_counts

),

quarter_hours as (

    -- Events per customer and UTC quarter hour: every time zone's offset is a
    -- whole number of quarter hours, so the local hour of the quarter hour is
    -- each of its events' local hour.
    select
        customer_id,
        {{ dbt.dateadd(
            'minute',
            '15 * floor(extract(minute from event_ts) / 15)',
            dbt.date_trunc('hour', 'event_ts'),
        ) }} as quarter_hour_start,
        count(*) as event_count
    from events
    where
        customer_id is not null
        and event_date >= {{ window_start(long_days) }}
        and event_date <= {{ as_of_date() }}
    group by 1, 2

),

zoned_quarter_hours as (

    select
        quarter_hours.customer_id,
        coalesce(customers.timezone, 'UTC') as timezone,
        quarter_hours.quarter_hour_start,
        quarter_hours.event_count
    from quarter_hours
    inner join customers
        on quarter_hours.customer_id = customers.customer_id

),

local_hour_of_quarter as (

    -- one time-zone conversion per zone and quarter hour, not per event
    select
        timezone,
        quarter_hour_start,
        cast(
            extract(hour from {{ to_local_timestamp('quarter_hour_start', 'timezone') }})
            as {{ dbt.type_int() }}
        ) as local_hour
    from (select distinct timezone, quarter_hour_start from zoned_quarter_hours) as distinct_quarters

),

hour_ranking as (

    select
        zoned_quarter_hours.customer_id,
        local_hour_of_quarter.local_hour,
        row_number() over (
            partition by zoned_quarter_hours.customer_id
            order by sum(zoned_quarter_hours.event_count) desc, local_hour_of_quarter.local_hour
        ) as hour_rank
    from zoned_quarter_hours
    inner join local_hour_of_quarter
        on
            zoned_quarter_hours.timezone = local_hour_of_quarter.timezone
            and zoned_quarter_hours.quarter_hour_start = local_hour_of_quarter.quarter_hour_start
    group by zoned_quarter_hours.customer_id, local_hour_of_quarter.local_hour

),

joined as (

    select
        customers.customer_id,
        dormancy.as_of_date,
        customers.email,
        customers.first_name,
        customers.country,
        customers.timezone,
        customers.plan,
        customers.lifetime_value,
        customers.marketing_consent,
        customers.signup_at,
        flags.days_since_signup as tenure_days,
        dormancy.days_since_last_active,
        dormancy.dormancy_stage,
        dormancy.is_at_risk,
        dormancy.active_actions_7d,
        dormancy.active_actions_prior_28d,
        dormancy.active_actions_7d - dormancy.baseline_weekly_active_actions as activity_trend,
        coalesce(session_counts.sessions_28d, 0) as sessions_28d,
        coalesce(activity_counts.events_28d, 0) as events_28d,
        coalesce(activity_counts.purchases_90d, 0) as purchases_90d,
        coalesce(activity_counts.revenue_90d, 0) as revenue_90d,
        coalesce(customers.lifetime_value, 0) + coalesce(activity_counts.revenue_90d, 0) as customer_value,
        category_ranking.category as favourite_category,
        hour_ranking.local_hour as preferred_local_hour,
        flags.cart_abandoned,
        flags.browse_abandoned,
        flags.category_enthusiast,
        flags.enthusiast_category,
        flags.is_new_user

    from customers
    inner join dormancy
        on customers.customer_id = dormancy.customer_id
    inner join flags
        on customers.customer_id = flags.customer_id
    left join session_counts
        on customers.customer_id = session_counts.customer_id
    left join activity_counts
        on customers.customer_id = activity_counts.customer_id
    left join category_ranking
        on
            customers.customer_id = category_ranking.customer_id
            and category_ranking.category_rank = 1
    left join hour_ranking
        on
            customers.customer_id = hour_ranking.customer_id
            and hour_ranking.hour_rank = 1

),

ranked as (

    -- ntile() splits ties arbitrarily; customers with the same value share the
    -- lowest quintile any of them landed in, so equal customers get equal scores
    select
        *,
        ntile(5) over (
            order by coalesce(days_since_last_active, 999999) desc, customer_id
        ) as recency_tile,
        ntile(5) over (order by sessions_28d, customer_id) as frequency_tile,
        ntile(5) over (order by customer_value, customer_id) as monetary_tile,
        rank() over (order by customer_value desc) as value_rank,
        count(*) over () as customer_count
    from joined

),

scored as (

    select
        *,
        min(recency_tile) over (partition by coalesce(days_since_last_active, 999999)) as recency_score,
        min(frequency_tile) over (partition by sessions_28d) as frequency_score,
        min(monetary_tile) over (partition by customer_value) as monetary_score,
        customer_value > 0
        and value_rank <= ceil(customer_count * {{ var('high_value_top_share') }}) as is_high_value
    from ranked

),

final as (

    select
        customer_id,
        as_of_date,
        email,
        first_name,
        country,
        timezone,
        plan,
        lifetime_value,
        marketing_consent,
        signup_at,
        tenure_days,
        days_since_last_active,
        dormancy_stage,
        is_at_risk,
        active_actions_7d,
        active_actions_prior_28d,
        activity_trend,
        sessions_28d,
        events_28d,
        purchases_90d,
        revenue_90d,
        customer_value,
        recency_score,
        frequency_score,
        monetary_score,
        favourite_category,
        preferred_local_hour,
        cart_abandoned,
        browse_abandoned,
        category_enthusiast,
        enthusiast_category,
        is_new_user,
        is_high_value,
        case
            when is_new_user then 'new'
            when dormancy_stage = 'lapsed' then 'lapsed'
            when dormancy_stage = 'dormant' then 'dormant'
            when is_at_risk then 'at_risk'
            when is_high_value then 'high_value'
            else 'engaged'
        end as segment

    from scored

)

select * from final
