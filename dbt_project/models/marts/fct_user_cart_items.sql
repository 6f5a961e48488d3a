{% set lookback_days = var('cart_items_lookback_days') | int %}

with

adds as (

    -- add_to_cart events of the look-back window (the days ending D)
    select
        customer_id,
        product_id,
        event_id,
        event_ts as added_at
    from {{ ref('int_events_stitched') }} as events
    where
        customer_id is not null
        and product_id is not null
        and event_name = 'add_to_cart'
        and event_date >= {{ window_start(lookback_days) }}
        and event_date <= {{ as_of_date() }}

),

purchases as (

    -- purchases that can follow an add above; one without a product_id is
    -- an order naming no item, and closes every item added before it
    select
        customer_id,
        product_id,
        event_ts as purchased_at
    from {{ ref('int_events_stitched') }} as events
    where
        customer_id is not null
        and event_kind = 'purchase'
        and event_date >= {{ window_start(lookback_days) }}
        and event_date <= {{ as_of_date() }}

),

adds_not_bought_since as (

    select adds.*
    from adds
    where not exists (
        select 1
        from purchases
        where
            purchases.customer_id = adds.customer_id
            and (purchases.product_id = adds.product_id or purchases.product_id is null)
            and purchases.purchased_at >= adds.added_at
    )

),

items as (

    select
        customer_id,
        product_id,
        count(*) as quantity,
        max(added_at) as last_added_at
    from adds_not_bought_since
    group by customer_id, product_id

),

products as (

    select * from {{ ref('stg_catalog__products') }}

),

final as (

    select
        {{ dbt.hash(dbt.concat(['items.customer_id', "'|'", 'items.product_id'])) }} as cart_item_id,
        items.customer_id,
        {{ as_of_date() }} as as_of_date,
        items.product_id,
        row_number() over (
            partition by items.customer_id
            order by items.last_added_at desc, items.product_id
        ) as cart_rank,
        items.quantity,
        items.last_added_at,
        products.product_name,
        products.category,
        products.price,
        products.currency,
        products.image_url,
        products.product_url,
        products.in_stock

    from items
    left join products
        on items.product_id = products.product_id

)

{{ contract_columns('final') }}
