{#
    What each customer did with each product in the recommendations look-back:
    bought it, or only looked at it (viewed or carted). Everything the
    recommendations read about a customer: the products to leave out (bought),
    the history that co-occurrence learns from and scores with (capped), and
    the categories they favour.
#}
{%- set lookback_days = var('recommendations_lookback_days') | int -%}
{%- set view_weight = var('recommendation_view_weight') | float -%}
{%- set history_products = var('recommendation_history_products') | int -%}

with

product_events as (

    -- purchases, product views and cart adds of the look-back window (the days ending D)
    select
        customer_id,
        product_id,
        category,
        event_ts,
        coalesce(event_kind = 'purchase', false) as is_purchase
    from {{ ref('int_events_stitched') }} as events
    where
        customer_id is not null
        and product_id is not null
        and (event_kind = 'purchase' or event_name in ('product_view', 'add_to_cart'))
        and event_date >= {{ window_start(lookback_days) }}
        and event_date <= {{ as_of_date() }}

),

interactions as (

    select
        customer_id,
        product_id,
        max(category) as event_category,
        {{ count_where('is_purchase') }} as purchase_count,
        {{ count_where('not is_purchase') }} as look_count,
        max(event_ts) as last_interacted_at
    from product_events
    group by customer_id, product_id

),

products as (

    select * from {{ ref('stg_catalog__products') }}

),

ranked as (

    -- purchases say more than looks: a customer's history is their purchases, most recent
    -- first, then what they only looked at, most recent first
    select
        interactions.customer_id,
        interactions.product_id,
        coalesce(products.category, interactions.event_category) as category,
        interactions.purchase_count > 0 as is_bought,
        interactions.purchase_count,
        interactions.look_count,
        case
            when interactions.purchase_count > 0 then cast(1.0 as {{ reengage.type_double() }})
            else cast({{ view_weight }} as {{ reengage.type_double() }})
        end as interaction_weight,
        interactions.last_interacted_at,
        row_number() over (
            partition by interactions.customer_id
            order by
                case when interactions.purchase_count > 0 then 0 else 1 end,
                interactions.last_interacted_at desc,
                interactions.product_id
        ) as history_rank
    from interactions
    left join products
        on interactions.product_id = products.product_id

),

final as (

    select
        customer_id,
        product_id,
        {{ as_of_date() }} as as_of_date,
        category,
        is_bought,
        purchase_count,
        look_count,
        interaction_weight,
        last_interacted_at,
        history_rank,
        history_rank <= {{ history_products }} as in_history
    from ranked

)

{{ contract_columns('final') }}
