{%- set per_user = var('recommendations_per_user') | int -%}
{%- set favourite_categories = var('recommendation_favourite_categories') | int -%}

with

interactions as (

    select * from {{ ref('int_customer_product_interactions') }}

),

neighbours as (

    select * from {{ ref('int_product_co_occurrence') }}

),

products as (

    select * from {{ ref('stg_catalog__products') }}

),

bought as (

    -- what each customer bought in the window: never recommended to them
    select
        customer_id,
        product_id
    from interactions
    where is_bought

),

recommendable as (

    -- only what can be bought: in stock in the catalog as it stood at the end of D
    select *
    from products
    where in_stock

),

co_occurrence_scores as (

    -- a candidate scores the similarity to each product of the customer's history,
    -- weighted as that product is (a purchase counts fully, a look less)
    select
        history.customer_id,
        neighbours.neighbour_product_id as product_id,
        sum(history.interaction_weight * neighbours.similarity) as score
    from interactions as history
    inner join neighbours
        on history.product_id = neighbours.product_id
    where history.in_history
    group by history.customer_id, neighbours.neighbour_product_id

),

co_occurrence as (

    select
        scores.customer_id,
        scores.product_id,
        -- a sum of doubles adds up in an order each engine picks: rounded to 1e-9, equal
        -- scores rank by product_id on DuckDB and PostgreSQL alike
        floor(scores.score * 1000000000 + 0.5) / 1000000000 as score,
        'co_occurrence' as source,
        1 as source_order
    from co_occurrence_scores as scores
    inner join recommendable
        on scores.product_id = recommendable.product_id
    -- an anti-join by a left join: a correlated not exists is planned far slower here
    left join bought
        on
            scores.customer_id = bought.customer_id
            and scores.product_id = bought.product_id
    where bought.product_id is null

),

category_weights as (

    select
        customer_id,
        category,
        sum(interaction_weight) as category_weight,
        {{ count_where('is_bought') }} as bought_products
    from interactions
    where category is not null
    group by customer_id, category

),

favourite_categories as (

    -- a customer's favourite categories: the most weight of their purchases and looks;
    -- affinity is the category's share of that weight
    select
        customer_id,
        category,
        category_weight / sum(category_weight) over (partition by customer_id) as affinity,
        bought_products,
        row_number() over (
            partition by customer_id
            order by category_weight desc, category
        ) as category_rank
    from category_weights

),

product_popularity as (

    -- popularity: every customer's weight on the product (a buyer 1, a looker less)
    select
        product_id,
        sum(interaction_weight) as popularity
    from interactions
    group by product_id

),

ranked_in_category as (

    -- in-stock products by popularity within their category; a product nobody touched in the
    -- window is not popular
    select
        recommendable.product_id,
        recommendable.category,
        product_popularity.popularity
            / sum(product_popularity.popularity) over (partition by recommendable.category)
            as category_share,
        row_number() over (
            partition by recommendable.category
            order by product_popularity.popularity desc, recommendable.product_id
        ) as popularity_rank
    from recommendable
    inner join product_popularity
        on recommendable.product_id = product_popularity.product_id
    where recommendable.category is not null

),

popular_in_category as (

    -- a category's top ranks only: every short list would otherwise meet every product of its
    -- categories before the rank filter below (twice the limit covers the limit plus up to as
    -- many purchases of the customer's in the category)
    select *
    from ranked_in_category
    where popularity_rank <= 2 * {{ per_user }}

),

top_co_occurrence as (

    select
        *,
        row_number() over (
            partition by customer_id
            order by score desc, product_id
        ) as source_rank
    from co_occurrence

),

kept_co_occurrence as (

    select
        customer_id,
        product_id,
        score,
        source,
        source_order
    from top_co_occurrence
    where source_rank <= {{ per_user }}

),

short_lists as (

    -- the customers whose co-occurrence list does not reach the limit: only they need filling
    select
        favourite_categories.customer_id,
        favourite_categories.category,
        favourite_categories.affinity,
        favourite_categories.bought_products
    from favourite_categories
    left join (
        select
            customer_id,
            count(*) as kept
        from kept_co_occurrence
        group by customer_id
    ) as kept_counts
        on favourite_categories.customer_id = kept_counts.customer_id
    where
        favourite_categories.category_rank <= {{ favourite_categories }}
        and coalesce(kept_counts.kept, 0) < {{ per_user }}

),

fallback as (

    -- the score is the category's share of the customer's weight times the product's share
    -- of its category's popularity: how likely this customer is to pick it by taste alone
    select
        short_lists.customer_id,
        popular_in_category.product_id,
        floor(short_lists.affinity * popular_in_category.category_share * 1000000000 + 0.5)
            / 1000000000 as score,
        'popular_in_category' as source,
        2 as source_order
    from short_lists
    inner join popular_in_category
        on short_lists.category = popular_in_category.category
    where
        -- enough to fill the list whatever it leaves out: the customer's purchases in the category,
        -- and the co-occurrence rows (fewer than the limit, or the customer would not be here)
        popular_in_category.popularity_rank <= {{ per_user }} + short_lists.bought_products
        and not exists (
            select 1
            from bought
            where
                bought.customer_id = short_lists.customer_id
                and bought.product_id = popular_in_category.product_id
        )
        and not exists (
            select 1
            from kept_co_occurrence
            where
                kept_co_occurrence.customer_id = short_lists.customer_id
                and kept_co_occurrence.product_id = popular_in_category.product_id
        )

),

candidates as (

    select * from kept_co_occurrence

    union all

    select * from fallback

),

ranked as (

    -- co-occurrence first, then the fallback fills the list up to the limit
    select
        *,
        row_number() over (
            partition by customer_id
            order by source_order, score desc, product_id
        ) as recommendation_rank
    from candidates

),

final as (

    select
        {{ dbt.hash(dbt.concat(['ranked.customer_id', "'|'", 'ranked.product_id'])) }} as recommendation_id,
        ranked.customer_id,
        {{ as_of_date() }} as as_of_date,
        ranked.product_id,
        ranked.recommendation_rank,
        ranked.score,
        ranked.source,
        recommendable.product_name,
        recommendable.category,
        recommendable.price,
        recommendable.currency,
        recommendable.image_url,
        recommendable.product_url

    from ranked
    inner join recommendable
        on ranked.product_id = recommendable.product_id
    where ranked.recommendation_rank <= {{ per_user }}

)

{{ contract_columns('final') }}
