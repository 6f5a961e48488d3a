-- A table, not a view like the other staging models: its data tests would
-- each compare every CRM snapshot with the one before again.
{{ config(materialized='table') }}

with

snapshots as (

    select * from {{ source('raw', 'customers') }}

),

as_of_snapshots as (

    -- One row per snapshot and channel, each channel's consent and its time.
    {%- for channel, consent, updated in [
        ('email', 'marketing_consent', 'consent_updated_at'),
        ('sms', 'sms_consent', 'sms_consent_updated_at'),
    ] %}
    {{ "union all" if not loop.first }}
    select
        customer_id,
        '{{ channel }}' as channel,
        {{ consent }} as consent,
        {{ to_utc_timestamp(updated) }} as consent_updated_at,
        {{ to_utc_timestamp('updated_at') }} as updated_at,
        _partition_date,
        _loaded_at,
        _source_row
    from snapshots
    where {{ to_utc_timestamp('updated_at') }} < {{ as_of_end() }}
    {%- endfor %}

),

distinct_snapshots as (

    -- the same snapshot can be loaded twice (a re-delivered file): keep one
    select
        *,
        row_number() over (
            partition by customer_id, channel, updated_at
            order by _partition_date desc, _loaded_at desc, _source_row desc
        ) as copy_rank
    from as_of_snapshots

),

with_previous as (

    select
        customer_id,
        channel,
        consent,
        consent_updated_at,
        updated_at,
        lag(consent) over (
            partition by customer_id, channel order by updated_at
        ) as previous_consent,
        row_number() over (
            partition by customer_id, channel order by updated_at
        ) as snapshot_number
    from distinct_snapshots
    where copy_rank = 1

),

changes as (

    select *
    from with_previous
    where
        -- a CRM without SMS consent (every value null so far) has no SMS history to show
        (snapshot_number = 1 and (channel = 'email' or consent is not null))
        or consent != previous_consent
        or (consent is null) != (previous_consent is null)

),

final as (

    select
        {{ dbt.hash(dbt.concat(["customer_id", "'|'", "channel", "'|'", "cast(updated_at as " ~ dbt.type_string() ~ ")"])) }}
            as consent_change_id,
        customer_id,
        channel,
        consent,
        previous_consent,
        coalesce(consent_updated_at, updated_at) as changed_at,
        updated_at as observed_at,
        snapshot_number = 1 as is_first_observation

    from changes

)

{{ contract_columns('final') }}
