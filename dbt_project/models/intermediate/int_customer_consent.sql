with

customers as (

    select * from {{ ref('stg_crm__customers') }}

),

refused_rows as (

    select * from {{ ref('stg_crm__refused_customers') }}

),

refused_by_customer as (

    -- A refused row names its customer by id. A row whose id cannot be read
    -- stands for every customer whose current address or phone it carries:
    -- that contact is not messaged on a row nobody could check.
    select
        coalesce(refused_rows.customer_id, by_contact.customer_id) as customer_id,
        refused_rows.refused_row_id,
        refused_rows.withdraws_consent,
        refused_rows.withdraws_sms_consent,
        refused_rows.updated_at,
        refused_rows.partition_date,
        refused_rows.source_row,
        refused_rows.refusal_reason
    from refused_rows
    left join customers as by_contact
        on
            refused_rows.customer_id is null
            and (refused_rows.email = by_contact.email or refused_rows.phone = by_contact.phone)

),

refused_after_snapshot as (

    -- Newer than the snapshot in use (stg_crm__customers): from a later
    -- landing day; from the same day, with an updated_at at or after the
    -- snapshot's (a tie is a doubt), or, when its updated_at cannot be read,
    -- further down the file.
    select refused_by_customer.*
    from refused_by_customer
    inner join customers
        on refused_by_customer.customer_id = customers.customer_id
    where
        refused_by_customer.partition_date > customers.snapshot_partition_date
        or (
            refused_by_customer.partition_date = customers.snapshot_partition_date
            and (
                refused_by_customer.updated_at >= customers.updated_at
                or (
                    refused_by_customer.updated_at is null
                    and refused_by_customer.source_row > customers.snapshot_source_row
                )
            )
        )

),

ranked as (

    select
        *,
        row_number() over (
            partition by customer_id
            order by partition_date desc, source_row desc, refused_row_id
        ) as newest_rank
    from refused_after_snapshot

),

refusals as (

    select
        customer_id,
        count(*) as refused_rows_after_snapshot,
        max(case when withdraws_consent then 1 else 0 end) = 1 as has_refused_withdrawal,
        max(case when withdraws_sms_consent then 1 else 0 end) = 1 as has_refused_sms_withdrawal
    from refused_after_snapshot
    group by customer_id

),

final as (

    select
        customers.customer_id,
        {#- one rule for every channel: (status, the snapshot's flag, a refused row withdrew it) #}
        {%- for status, flag, refused_withdrawal in [
            ('consent_status', 'marketing_consent', 'has_refused_withdrawal'),
            ('sms_consent_status', 'sms_consent', 'has_refused_sms_withdrawal'),
        ] %}
        case
            -- a refused row never grants consent, so the snapshot's "no" stands;
            -- a snapshot that does not say (null) has not agreed
            when not coalesce(customers.{{ flag }}, false) then 'withdrawn'
            when refusals.{{ refused_withdrawal }} then 'withdrawn'
            when refusals.customer_id is not null then 'unverified'
            else 'granted'
        end as {{ status }},
        {%- endfor %}
        customers.marketing_consent as snapshot_marketing_consent,
        customers.sms_consent as snapshot_sms_consent,
        coalesce(refusals.refused_rows_after_snapshot, 0) as refused_rows_after_snapshot,
        newest.partition_date as newest_refused_partition_date,
        newest.refusal_reason as newest_refusal_reason

    from customers
    left join refusals
        on customers.customer_id = refusals.customer_id
    left join ranked as newest
        on
            customers.customer_id = newest.customer_id
            and newest.newest_rank = 1

)

{{ contract_columns('final') }}
