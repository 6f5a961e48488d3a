-- fct_user_recommendations keeps its promises on every row: never a product the
-- customer bought in the look-back, never one out of stock or unknown to the
-- catalog, and each customer's ranks run 1, 2, 3, ... up to at most
-- recommendations_per_user. A failure means a message would show a product the
-- person already has, cannot buy, or a list longer than its block allows.

with

recommendations as (

    select * from {{ ref('fct_user_recommendations') }}

),

bought as (

    select customer_id, product_id
    from {{ ref('int_customer_product_interactions') }}
    where is_bought

),

products as (

    select * from {{ ref('stg_catalog__products') }}

),

per_customer as (

    select
        customer_id,
        count(*) as row_count,
        min(recommendation_rank) as first_rank,
        max(recommendation_rank) as last_rank
    from recommendations
    group by customer_id

)

select
    recommendations.customer_id,
    recommendations.product_id,
    'bought in the look-back' as broken_rule
from recommendations
inner join bought
    on
        recommendations.customer_id = bought.customer_id
        and recommendations.product_id = bought.product_id

union all

select
    recommendations.customer_id,
    recommendations.product_id,
    'out of stock or unknown to the catalog' as broken_rule
from recommendations
left join products
    on recommendations.product_id = products.product_id
where not coalesce(products.in_stock, false)

union all

select
    customer_id,
    null as product_id,
    'ranks not 1 to n, or more than recommendations_per_user' as broken_rule
from per_customer
where
    first_rank != 1
    or last_rank != row_count
    or row_count > {{ var('recommendations_per_user') | int }}
