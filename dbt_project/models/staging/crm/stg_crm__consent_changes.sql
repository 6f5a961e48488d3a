-- A table, not a view like the other staging models: its data tests would
-- each compare every CRM snapshot with the one before again.
{{ config(materialized='table') }}

with

snapshots as (

    select * from {{ source('raw', 'customers') }}

),

as_of_snapshots as (

    select
        customer_id,
        marketing_consent,
        {{ to_utc_timestamp('consent_updated_at') }} as consent_updated_at,
        {{ to_utc_timestamp('updated_at') }} as updated_at,
        _partition_date,
        _loaded_at,
        _source_row
    from snapshots
    where {{ to_utc_timestamp('updated_at') }} < {{ as_of_end() }}

),

distinct_snapshots as (

    -- the same snapshot can be loaded twice (a re-delivered file): keep one
    select
        *,
        row_number() over (
            partition by customer_id, updated_at
            order by _partition_date desc, _loaded_at desc, _source_row desc
        ) as copy_rank
    from as_of_snapshots

),

with_previous as (

    select
        customer_id,
        marketing_consent,
        consent_updated_at,
        updated_at,
        lag(marketing_consent) over (
            partition by customer_id order by updated_at
        ) as previous_marketing_consent,
        row_number() over (
            partition by customer_id order by updated_at
        ) as snapshot_number
    from distinct_snapshots
    where copy_rank = 1

),

changes as (

    select *
    from with_previous
    where
        snapshot_number = 1
        or marketing_consent != previous_marketing_consent
        or (marketing_consent is null) != (previous_marketing_consent is null)

),

final as (

    select
        {{ dbt.hash(dbt.concat(["customer_id", "'|'", "cast(updated_at as " ~ dbt.type_string() ~ ")"])) }}
            as consent_change_id,
        customer_id,
        marketing_consent,
        previous_marketing_consent,
        coalesce(consent_updated_at, updated_at) as changed_at,
        updated_at as observed_at,
        snapshot_number = 1 as is_first_observation

    from changes

)

{{ contract_columns('final') }}
