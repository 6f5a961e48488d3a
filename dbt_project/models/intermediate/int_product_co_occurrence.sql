{#
    Item-to-item similarity from the customers' histories: two products are
    alike when the same customers bought or looked at both. The measure is
    the cosine of the two products' customer vectors (each customer's entry
    the interaction weight: 1 bought, less looked at):

        cosine(a, b) = sum_c w(c,a) w(c,b) / sqrt(sum_c w(c,a)^2 * sum_c w(c,b)^2)

    Raw co-counts would make the bestsellers everyone's neighbours (they
    co-occur with everything because everyone has them); lift (co-count over
    the count expected by chance) swings the other way, and one customer who
    happens to hold two rare products gives them a huge lift. The cosine
    divides by the geometric mean of the two products' reach, so a bestseller
    must co-occur in proportion to it, and a pair needs at least
    recommendation_min_co_customers customers, so no single coincidence counts.
    The pairs come from each customer's capped history only
    (int_customer_product_interactions.in_history): at most N(N - 1) / 2
    pairs per customer for a cap of N, however much they browse.
#}
{%- set min_co_customers = var('recommendation_min_co_customers') | int -%}
{%- set neighbours = var('recommendation_neighbours') | int -%}

with

history as (

    select
        customer_id,
        product_id,
        interaction_weight
    from {{ ref('int_customer_product_interactions') }}
    where in_history

),

product_norms as (

    select
        product_id,
        sum(interaction_weight * interaction_weight) as weight_squares
    from history
    group by product_id

),

unordered_pairs as (

    -- each pair once (the smaller id first): half the rows to aggregate, the costliest step
    select
        history.product_id as first_product_id,
        other.product_id as second_product_id,
        count(*) as co_customers,
        sum(history.interaction_weight * other.interaction_weight) as co_weight
    from history
    inner join history as other
        on
            history.customer_id = other.customer_id
            and history.product_id < other.product_id
    group by history.product_id, other.product_id
    having count(*) >= {{ min_co_customers }}

),

pairs as (

    -- both directions: each product ranks its own neighbours
    select
        first_product_id as product_id,
        second_product_id as neighbour_product_id,
        co_customers,
        co_weight
    from unordered_pairs

    union all

    select
        second_product_id as product_id,
        first_product_id as neighbour_product_id,
        co_customers,
        co_weight
    from unordered_pairs

),

scored as (

    select
        pairs.product_id,
        pairs.neighbour_product_id,
        pairs.co_customers,
        pairs.co_weight,
        pairs.co_weight / sqrt(product_norms.weight_squares * neighbour_norms.weight_squares) as similarity
    from pairs
    inner join product_norms
        on pairs.product_id = product_norms.product_id
    inner join product_norms as neighbour_norms
        on pairs.neighbour_product_id = neighbour_norms.product_id

),

ranked as (

    select
        *,
        row_number() over (
            partition by product_id
            order by similarity desc, co_customers desc, neighbour_product_id
        ) as neighbour_rank
    from scored

),

final as (

    select
        product_id,
        neighbour_product_id,
        {{ as_of_date() }} as as_of_date,
        neighbour_rank,
        similarity,
        co_customers,
        co_weight
    from ranked
    where neighbour_rank <= {{ neighbours }}

)

{{ contract_columns('final') }}
