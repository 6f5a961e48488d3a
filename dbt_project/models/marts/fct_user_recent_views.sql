{% set lookback_days = var('recent_views_lookback_days') | int %}

with

views as (

    -- product views of the look-back window (the days ending D)
    select
        customer_id,
        product_id,
        event_ts as viewed_at
    from {{ ref('int_events_stitched') }} as events
    where
        customer_id is not null
        and product_id is not null
        and event_name = 'product_view'
        and event_date >= {{ window_start(lookback_days) }}
        and event_date <= {{ as_of_date() }}

),

added_to_cart as (

    -- a product the customer put in a cart in the same window is the cart's
    -- (fct_user_cart_items) or was bought, not a product only looked at
    select distinct
        customer_id,
        product_id
    from {{ ref('int_events_stitched') }} as events
    where
        customer_id is not null
        and product_id is not null
        and event_name = 'add_to_cart'
        and event_date >= {{ window_start(lookback_days) }}
        and event_date <= {{ as_of_date() }}

),

viewed_products as (

    select
        views.customer_id,
        views.product_id,
        count(*) as view_count,
        max(views.viewed_at) as last_viewed_at
    from views
    where not exists (
        select 1
        from added_to_cart
        where
            added_to_cart.customer_id = views.customer_id
            and added_to_cart.product_id = views.product_id
    )
    group by views.customer_id, views.product_id

),

products as (

    select * from {{ ref('stg_catalog__products') }}

),

final as (

    select
        {{ dbt.hash(dbt.concat(['viewed_products.customer_id', "'|'", 'viewed_products.product_id'])) }}
            as recent_view_id,
        viewed_products.customer_id,
        {{ as_of_date() }} as as_of_date,
        viewed_products.product_id,
        row_number() over (
            partition by viewed_products.customer_id
            order by viewed_products.last_viewed_at desc, viewed_products.product_id
        ) as view_rank,
        viewed_products.view_count,
        viewed_products.last_viewed_at,
        products.product_name,
        products.category,
        products.price,
        products.currency,
        products.image_url,
        products.product_url,
        products.in_stock

    from viewed_products
    left join products
        on viewed_products.product_id = products.product_id

)

{{ contract_columns('final') }}
