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

consent as (

    -- may this customer be mailed, and texted: granted, withdrawn or unverified
    select * from {{ ref('int_customer_consent') }}

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
        -- a customer missing from int_customer_consent is a bug; it must not be mailed
        coalesce(consent.consent_status, 'unverified') as consent_status,
        customers.phone,
        customers.sms_consent,
        -- nor texted
        coalesce(consent.sms_consent_status, 'unverified') as sms_consent_status,
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
    left join consent
        on customers.customer_id = consent.customer_id
    left join activity_summary
        on customers.customer_id = activity_summary.customer_id

),

keyed as (

    select
        customer_id,
        coalesce(days_since_last_active, 999999) as recency_key,
        sessions_28d,
        customer_value
    from joined

),

{#- Scores are quintiles (ntile(5)) of the customers ordered by each value;
    customers with the same value share the quintile of the first of them,
    so equal customers get equal scores. Computed from counts per distinct
    value (a cumulative count says how many customers come before), which
    sorts a few thousand values instead of a million customers. -#}
recency_positions as (

    -- most recent first: more days since the last active action come first
    select
        recency_key,
        cast(sum(count(*)) over (order by recency_key desc) - count(*) as {{ dbt.type_bigint() }}) as rows_before
    from keyed
    group by recency_key

),

frequency_positions as (

    select
        sessions_28d,
        cast(sum(count(*)) over (order by sessions_28d) - count(*) as {{ dbt.type_bigint() }}) as rows_before
    from keyed
    group by sessions_28d

),

monetary_positions as (

    select
        customer_value,
        cast(sum(count(*)) over (order by customer_value) - count(*) as {{ dbt.type_bigint() }}) as rows_before,
        -- customers worth more: rank() by value, highest first, is this + 1
        cast(sum(count(*)) over (order by customer_value desc) - count(*) as {{ dbt.type_bigint() }}) as rows_above
    from keyed
    group by customer_value

),

customer_total as (

    select count(*) as customer_count
    from keyed

),

scored as (

    select
        joined.*,
        {{ reengage.ntile_at('recency_positions.rows_before + 1', 'customer_total.customer_count', 5) }}
            as recency_score,
        {{ reengage.ntile_at('frequency_positions.rows_before + 1', 'customer_total.customer_count', 5) }}
            as frequency_score,
        {{ reengage.ntile_at('monetary_positions.rows_before + 1', 'customer_total.customer_count', 5) }}
            as monetary_score,
        joined.customer_value > 0
        and monetary_positions.rows_above + 1
        <= ceil(customer_total.customer_count * {{ var('high_value_top_share') }}) as is_high_value
    from joined
    cross join customer_total
    inner join recency_positions
        on coalesce(joined.days_since_last_active, 999999) = recency_positions.recency_key
    inner join frequency_positions
        on joined.sessions_28d = frequency_positions.sessions_28d
    inner join monetary_positions
        on joined.customer_value = monetary_positions.customer_value

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
        consent_status,
        phone,
        sms_consent,
        sms_consent_status,
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

{{ contract_columns('final') }}
