with

links as (

    select * from {{ ref('int_identity_links') }}

),

ranked as (

    -- the latest event carrying both ids decides (ties: the larger event_id)
    select
        anonymous_id,
        customer_id,
        min(first_seen_at) over (partition by anonymous_id) as first_identified_at,
        max(last_seen_at) over (partition by anonymous_id) as last_identified_at,
        count(*) over (partition by anonymous_id) as linked_customer_count,
        min(first_partition_date) over (partition by anonymous_id) as first_linked_partition_date,
        row_number() over (
            partition by anonymous_id
            order by last_seen_at desc, last_event_id desc
        ) as recency_rank
    from links

),

final as (

    select
        anonymous_id,
        customer_id,
        first_identified_at,
        last_identified_at,
        linked_customer_count,
        first_linked_partition_date

    from ranked
    where recency_rank = 1

)

{{ contract_columns('final') }}
