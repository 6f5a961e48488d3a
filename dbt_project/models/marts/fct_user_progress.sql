with

customers as (

    select * from {{ ref('stg_crm__customers') }}

),

tiers as (

    select * from {{ ref('progress_tiers') }}

),

days as (

    -- each customer's days with events, up to D
    select
        customer_id,
        activity_date,
        purchase_count,
        revenue,
        active_action_count,
        last_event_at,
        cast({{ dbt.date_trunc('week', 'activity_date') }} as date) as week_start
    from {{ ref('fct_user_daily_activity') }}
    where activity_date <= {{ as_of_date() }}

),

totals as (

    select
        customer_id,
        coalesce(sum(purchase_count), 0) as order_count,
        coalesce(sum(revenue), 0) as total_spend,
        max(last_event_at) as last_visit_at
    from days
    group by customer_id

),

active_weeks as (

    -- UTC weeks (Monday to Sunday) with at least one active action, counted
    -- back from the week of D (0) in whole weeks
    select distinct
        customer_id,
        cast(floor({{ dbt.datediff('week_start', dbt.date_trunc('week', as_of_date()), 'day') }} / 7.0) as integer)
            as weeks_before
    from days
    where active_action_count > 0

),

ranked_weeks as (

    select
        customer_id,
        weeks_before,
        row_number() over (partition by customer_id order by weeks_before) as week_rank,
        min(weeks_before) over (partition by customer_id) as latest_weeks_before
    from active_weeks

),

streaks as (

    -- the run of consecutive active weeks ending with the week of D, or with
    -- the week before while the week of D has no active action yet (that
    -- week is still open: the streak breaks only when a week ends empty)
    select
        customer_id,
        max(case when latest_weeks_before = 0 then 1 else 0 end) = 1 as active_this_week,
        sum(
            case
                when latest_weeks_before <= 1 and weeks_before - week_rank + 1 = latest_weeks_before then 1
                else 0
            end
        ) as current_streak_weeks
    from ranked_weeks
    group by customer_id

),

progress as (

    select
        customers.customer_id,
        coalesce(totals.order_count, 0) as order_count,
        coalesce(totals.total_spend, 0) as total_spend,
        coalesce(streaks.current_streak_weeks, 0) as current_streak_weeks,
        coalesce(streaks.active_this_week, false) as active_this_week,
        totals.last_visit_at
    from customers
    left join totals
        on customers.customer_id = totals.customer_id
    left join streaks
        on customers.customer_id = streaks.customer_id

),

reached_tiers as (

    select
        progress.customer_id,
        tiers.tier,
        row_number() over (partition by progress.customer_id order by tiers.min_orders desc) as tier_rank
    from progress
    inner join tiers
        on tiers.min_orders <= progress.order_count

),

next_tiers as (

    select
        progress.customer_id,
        tiers.tier,
        tiers.min_orders - progress.order_count as orders_to_go,
        row_number() over (partition by progress.customer_id order by tiers.min_orders) as tier_rank
    from progress
    inner join tiers
        on tiers.min_orders > progress.order_count

),

final as (

    select
        progress.customer_id,
        {{ as_of_date() }} as as_of_date,
        progress.order_count,
        progress.total_spend,
        progress.current_streak_weeks,
        progress.active_this_week,
        progress.last_visit_at,
        {{ days_before_as_of('progress.last_visit_at') }} as days_since_last_visit,
        reached_tiers.tier as current_tier,
        next_tiers.tier as next_tier,
        next_tiers.orders_to_go as orders_to_next_tier

    from progress
    left join reached_tiers
        on
            progress.customer_id = reached_tiers.customer_id
            and reached_tiers.tier_rank = 1
    left join next_tiers
        on
            progress.customer_id = next_tiers.customer_id
            and next_tiers.tier_rank = 1

)

{{ contract_columns('final') }}
