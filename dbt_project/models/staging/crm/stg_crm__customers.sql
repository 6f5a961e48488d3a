-- A table, not a view like the other staging models: every as-of model and
-- a dozen data tests read it, and each read of a view would rank the CRM
-- snapshots again.
{{ config(materialized='table') }}

with

snapshots as (

    select * from {{ source('raw', 'customers') }}

),

as_of_snapshots as (

    -- only snapshots taken by the end of the run date count
    select *
    from snapshots
    where {{ to_utc_timestamp('updated_at') }} < {{ as_of_end() }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by customer_id
            order by updated_at desc, _partition_date desc, _loaded_at desc, _source_row desc
        ) as snapshot_rank
    from as_of_snapshots

),

final as (

    select
        customer_id,
        lower(trim(email)) as email,
        first_name,
        country,
        timezone,
        {{ to_utc_timestamp('signup_at') }} as signup_at,
        plan,
        lifetime_value,
        marketing_consent,
        {{ to_utc_timestamp('consent_updated_at') }} as consent_updated_at,
        -- validated as E.164 at ingest; a value that was not is null there
        nullif(trim(phone), '') as phone,
        sms_consent,
        {{ to_utc_timestamp('sms_consent_updated_at') }} as sms_consent_updated_at,
        {{ to_utc_timestamp('updated_at') }} as updated_at,
        -- where the snapshot came from: int_customer_consent orders the CRM's
        -- refused rows against it
        _partition_date as snapshot_partition_date,
        _source_row as snapshot_source_row

    from ranked
    where snapshot_rank = 1

)

{{ contract_columns('final') }}
