{% set recent_days = var('recent_window_days') | int %}
{% set baseline_days = var('baseline_window_days') | int %}

with

customers as (

    select * from {{ ref('stg_crm__customers') }}

),

activity_summary as (

    -- last active day (any age) and the 7- and 28-day counts, kept per
    -- customer by int_customer_activity_summary
    select * from {{ ref('int_customer_activity_summary') }}

),

joined as (

    select
        customers.customer_id,
        customers.signup_at,
        activity_summary.last_active_at,
        activity_summary.last_seen_at,
        coalesce(activity_summary.active_actions_7d, 0) as active_actions_7d,
        coalesce(activity_summary.active_actions_prior_28d, 0) as active_actions_prior_28d,
        case
            when activity_summary.last_active_at is not null
                then {{ days_before_as_of('activity_summary.last_active_at') }}
            else {{ days_before_as_of('customers.signup_at') }}
        end as days_since_last_active
    from customers
    left join activity_summary
        on customers.customer_id = activity_summary.customer_id

),

staged as (

    select
        *,
        case
            -- no active action and no signup date: nothing says this person was ever active
            when days_since_last_active is null then 'lapsed'
            when days_since_last_active < {{ var('cooling_after_days') }} then 'active'
            when days_since_last_active < {{ var('dormant_after_days') }} then 'cooling'
            when days_since_last_active < {{ var('lapsed_after_days') }} then 'dormant'
            else 'lapsed'
        end as dormancy_stage,
        cast(active_actions_prior_28d as {{ reengage.type_double() }})
            * {{ recent_days }} / {{ baseline_days }} as baseline_weekly_active_actions
    from joined

),

final as (

    select
        customer_id,
        {{ as_of_date() }} as as_of_date,
        signup_at,
        last_active_at,
        last_seen_at,
        days_since_last_active,
        dormancy_stage,
        active_actions_7d,
        active_actions_prior_28d,
        baseline_weekly_active_actions,
        active_actions_7d < {{ var('at_risk_ratio') }} * baseline_weekly_active_actions as is_at_risk

    from staged

)

{{ contract_columns('final') }}
