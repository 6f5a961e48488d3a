{% set min_count = var('social_proof_min_count') | int %}
{% set counts = ['viewers_24h', 'viewers_7d', 'buyers_24h', 'buyers_7d'] %}
{#- distinct people, so one visitor reloading a page is one viewer -#}
{% set people_counts %}
        count(distinct case when is_view and is_last_24h then person end) as viewers_24h,
        count(distinct case when is_view then person end) as viewers_7d,
        count(distinct case when is_purchase and is_last_24h then person end) as buyers_24h,
        count(distinct case when is_purchase then person end) as buyers_7d
{%- endset %}

with

products as (

    select * from {{ ref('stg_catalog__products') }}

),

events as (

    -- product views and purchases of the 7 days ending D, each with the
    -- person behind it (the customer, else the anonymous visitor) and the
    -- product's category (the catalog's, else the event's)
    select
        events.product_id,
        coalesce(products.category, events.category) as category,
        events.event_name = 'product_view' as is_view,
        events.event_kind = 'purchase' as is_purchase,
        events.event_ts >= {{ dbt.dateadd('hour', -24, as_of_end()) }} as is_last_24h,
        case
            when events.customer_id is not null then {{ dbt.concat(["'c:'", 'events.customer_id']) }}
            else {{ dbt.concat(["'a:'", 'events.anonymous_id']) }}
        end as person
    from {{ ref('int_events_stitched') }} as events
    left join products
        on events.product_id = products.product_id
    where
        events.product_id is not null
        and (events.event_name = 'product_view' or events.event_kind = 'purchase')
        and events.event_date >= {{ window_start(7) }}
        and events.event_date <= {{ as_of_date() }}
        and events.event_ts < {{ as_of_end() }}

),

product_counts as (

    select
        product_id,
        {{ people_counts }}
    from events
    group by product_id

),

category_counts as (

    select
        category,
        {{ people_counts }}
    from events
    where category is not null
    group by category

),

all_products as (

    -- the catalog, and products the events name that it does not hold (yet)
    select
        product_id,
        category
    from products

    union all

    select
        product_id,
        max(category) as category
    from events
    where not exists (
        select 1
        from products
        where products.product_id = events.product_id
    )
    group by product_id

),

scopes as (

    select
        'product' as scope,
        all_products.product_id as scope_id,
        all_products.product_id,
        all_products.category,
        {% for name in counts %}coalesce(product_counts.{{ name }}, 0) as {{ name }}{{ "," if not loop.last }}
        {% endfor %}
    from all_products
    left join product_counts
        on all_products.product_id = product_counts.product_id

    union all

    select
        'category' as scope,
        categories.category as scope_id,
        null as product_id,
        categories.category,
        {% for name in counts %}coalesce(category_counts.{{ name }}, 0) as {{ name }}{{ "," if not loop.last }}
        {% endfor %}
    from (select distinct category from all_products where category is not null) as categories
    left join category_counts
        on categories.category = category_counts.category

),

final as (

    -- a count below the minimum is never shown, only whether any count
    -- reached it: nothing below {{ min_count }} people is ever claimed
    select
        {{ dbt.hash(dbt.concat(['scope', "'|'", 'scope_id'])) }} as social_proof_id,
        scope,
        scope_id,
        product_id,
        category,
        {{ as_of_date() }} as as_of_date,
        {% for name in counts %}case when {{ name }} >= {{ min_count }} then {{ name }} end as {{ name }},
        {% endfor %}
        ({% for name in counts %}{{ name }} >= {{ min_count }}{{ " or " if not loop.last }}{% endfor %}) as claimable
    from scopes

)

{{ contract_columns('final') }}
