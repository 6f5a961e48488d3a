{% set lookback_days = var('flag_lookback_days') | int %}
{% set cart_hours = var('cart_abandon_hours') | int %}
{% set enthusiast_views = var('enthusiast_min_views') | int %}

{#- int_events_stitched is named in each CTE below rather than through an
    `events` CTE: DuckDB materializes a CTE read more than once, and the
    OR of the readers' date bounds then read the dates of every stored
    event instead of the recent row groups only. #}

with

customers as (

    select * from {{ ref('stg_crm__customers') }}

),

sessions as (

    select * from {{ ref('fct_sessions') }}

),

-- cart abandoned ------------------------------------------------------------

carts as (

    -- An add_to_cart is judged once its {{ cart_hours }} h window has closed
    -- (never while the customer may still buy), and counts when that window
    -- closed within the {{ lookback_days }} days ending the run date.
    select
        customer_id,
        event_id,
        product_id,
        event_ts as added_at,
        {{ dbt.dateadd('hour', cart_hours, 'event_ts') }} as window_closes_at
    from {{ ref('int_events_stitched') }} as events
    where
        customer_id is not null
        and event_name = 'add_to_cart'
        -- a literal date bound first, so the scan skips older row groups
        and event_date >= {{ window_start(lookback_days + 2 + (cart_hours // 24)) }}
        and {{ dbt.dateadd('hour', cart_hours, 'event_ts') }} <= {{ as_of_end() }}
        and {{ dbt.dateadd('hour', cart_hours, 'event_ts') }}
            > {{ dbt.dateadd('day', -lookback_days, as_of_end()) }}

),

purchases as (

    -- only purchases that can close a cart judged above (the oldest such cart
    -- was added {{ lookback_days }} days + {{ cart_hours }} h before the end of D)
    select
        customer_id,
        event_ts as purchased_at
    from {{ ref('int_events_stitched') }} as events
    where
        customer_id is not null
        and event_kind = 'purchase'
        and event_date >= {{ window_start(lookback_days + 2 + (cart_hours // 24)) }}
        and event_ts >= {{ dbt.dateadd('hour', -cart_hours, dbt.dateadd('day', -lookback_days, as_of_end())) }}

),

abandoned_carts as (

    select
        carts.customer_id,
        carts.event_id,
        carts.product_id,
        carts.added_at,
        row_number() over (
            partition by carts.customer_id
            order by carts.added_at desc, carts.event_id desc
        ) as recency_rank
    from carts
    where not exists (
        select 1
        from purchases
        where
            purchases.customer_id = carts.customer_id
            and purchases.purchased_at >= carts.added_at
            and purchases.purchased_at <= carts.window_closes_at
    )

),

cart_flags as (

    select
        customer_id,
        added_at as last_abandoned_cart_at,
        product_id as last_abandoned_product_id
    from abandoned_carts
    where recency_rank = 1

),

-- browse abandoned ----------------------------------------------------------

browse_flags as (

    select
        customer_id,
        max(session_start_at) as last_browse_abandoned_at
    from sessions
    where
        customer_id is not null
        and session_date >= {{ window_start(lookback_days) }}
        and session_date <= {{ as_of_date() }}
        and product_view_count >= {{ var('browse_abandon_min_product_views') }}
        and add_to_cart_count = 0
    group by customer_id

),

-- category enthusiast -------------------------------------------------------

product_views as (

    select
        customer_id,
        category,
        event_id,
        event_ts
    from {{ ref('int_events_stitched') }} as events
    where
        customer_id is not null
        and category is not null
        and event_name = 'product_view'
        and event_date >= {{ window_start(lookback_days) }}
        and event_date <= {{ as_of_date() }}

),

view_bursts as (

    -- the view {{ enthusiast_views - 1 }} views earlier in the same category;
    -- both within {{ var('enthusiast_window_minutes') }} minutes means
    -- {{ enthusiast_views }} views within that window
    select
        customer_id,
        category,
        event_ts,
        lag(event_ts, {{ enthusiast_views - 1 }}) over (
            partition by customer_id, category
            order by event_ts, event_id
        ) as burst_started_at
    from product_views

),

enthusiast_categories as (

    select distinct
        customer_id,
        category
    from view_bursts
    where
        burst_started_at is not null
        and event_ts <= {{ dbt.dateadd('minute', var('enthusiast_window_minutes'), 'burst_started_at') }}

),

category_views as (

    select
        product_views.customer_id,
        product_views.category,
        count(*) as view_count,
        max(product_views.event_ts) as last_viewed_at
    from product_views
    inner join enthusiast_categories
        on
            product_views.customer_id = enthusiast_categories.customer_id
            and product_views.category = enthusiast_categories.category
    group by product_views.customer_id, product_views.category

),

enthusiast_flags as (

    -- several qualifying categories: the most viewed, then the latest viewed
    select
        customer_id,
        category as enthusiast_category,
        row_number() over (
            partition by customer_id
            order by view_count desc, last_viewed_at desc, category
        ) as preference_rank
    from category_views

),

-- one row per customer ------------------------------------------------------

final as (

    select
        customers.customer_id,
        {{ as_of_date() }} as as_of_date,
        cart_flags.customer_id is not null as cart_abandoned,
        cart_flags.last_abandoned_cart_at,
        cart_flags.last_abandoned_product_id,
        browse_flags.customer_id is not null as browse_abandoned,
        browse_flags.last_browse_abandoned_at,
        enthusiast_flags.customer_id is not null as category_enthusiast,
        enthusiast_flags.enthusiast_category,
        {{ days_before_as_of('customers.signup_at') }} as days_since_signup,
        coalesce(
            {{ days_before_as_of('customers.signup_at') }} < {{ var('new_user_days') }},
            false
        ) as is_new_user

    from customers
    left join cart_flags
        on customers.customer_id = cart_flags.customer_id
    left join browse_flags
        on customers.customer_id = browse_flags.customer_id
    left join enthusiast_flags
        on
            customers.customer_id = enthusiast_flags.customer_id
            and enthusiast_flags.preference_rank = 1

)

{{ contract_columns('final') }}
