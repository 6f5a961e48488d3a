-- Every customer in the CRM as of the run date must have exactly one row in
-- fct_user_dormancy, fct_user_behaviour_flags and fct_user_features. A failure
-- means a join dropped or duplicated customers, and those customers would be
-- silently missing from scoring and campaigns (or targeted twice).

with

customers as (

    select customer_id from {{ ref('stg_crm__customers') }}

),

dormancy as (

    select customer_id, count(*) as row_count
    from {{ ref('fct_user_dormancy') }}
    group by customer_id

),

flags as (

    select customer_id, count(*) as row_count
    from {{ ref('fct_user_behaviour_flags') }}
    group by customer_id

),

features as (

    select customer_id, count(*) as row_count
    from {{ ref('fct_user_features') }}
    group by customer_id

)

select
    customers.customer_id,
    dormancy.row_count as dormancy_rows,
    flags.row_count as flag_rows,
    features.row_count as feature_rows
from customers
left join dormancy on customers.customer_id = dormancy.customer_id
left join flags on customers.customer_id = flags.customer_id
left join features on customers.customer_id = features.customer_id
where
    coalesce(dormancy.row_count, 0) != 1
    or coalesce(flags.row_count, 0) != 1
    or coalesce(features.row_count, 0) != 1
