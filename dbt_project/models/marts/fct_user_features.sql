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

activity_summary as (

    -- 28- and 90-day counts, favourite category and preferred local hour,
    -- kept per customer by int_customer_activity_summary (incremental)
    select * from {{ ref('int_customer_activity_summary') }}

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
        coalesce(activity_summary.sessions_28d, 0) as sessions_28d,
        coalesce(activity_summary.events_28d, 0) as events_28d,
        coalesce(activity_summary.purchases_90d, 0) as purchases_90d,
        coalesce(activity_summary.revenue_90d, 0) as revenue_90d,
        coalesce(customers.lifetime_value, 0) + coalesce(activity_summary.revenue_90d, 0) as customer_value,
        activity_summary.favourite_category,
        activity_summary.preferred_local_hour,
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
    left join activity_summary
        on customers.customer_id = activity_summary.customer_id

),

ranked as (

    -- the window functions sort a narrow projection (a million customers'
    -- wide rows sorted five times cost seconds a day); ntile() splits ties
    -- arbitrarily, so customers with the same value share the lowest
    -- quintile any of them landed in: equal customers get equal scores
    select
        customer_id,
        coalesce(days_since_last_active, 999999) as recency_key,
        sessions_28d,
        customer_value,
        ntile(5) over (
            order by coalesce(days_since_last_active, 999999) desc, customer_id
        ) as recency_tile,
        ntile(5) over (order by sessions_28d, customer_id) as frequency_tile,
        ntile(5) over (order by customer_value, customer_id) as monetary_tile,
        rank() over (order by customer_value desc) as value_rank,
        count(*) over () as customer_count
    from joined

),

scores as (

    select
        customer_id,
        min(recency_tile) over (partition by recency_key) as recency_score,
        min(frequency_tile) over (partition by sessions_28d) as frequency_score,
        min(monetary_tile) over (partition by customer_value) as monetary_score,
        customer_value > 0
        and value_rank <= ceil(customer_count * {{ var('high_value_top_share') }}) as is_high_value
    from ranked

),

scored as (

    select
        joined.*,
        scores.recency_score,
        scores.frequency_score,
        scores.monetary_score,
        scores.is_high_value
    from joined
    inner join scores
        on joined.customer_id = scores.customer_id

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
