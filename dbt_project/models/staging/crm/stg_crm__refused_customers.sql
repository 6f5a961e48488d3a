with

quarantine as (

    select * from {{ source('raw', 'quarantine') }}

),

refused_rows as (

    -- The CRM's refused rows of landing days up to D. A row quarantined only
    -- because a later row of the same customer in the same file superseded it,
    -- or because an identical copy of it was loaded, refused nothing: the
    -- loaded row says it all (orchestration/defs/ingest/parse.py, _duplicates).
    select *
    from quarantine
    where
        source = 'customers'
        and _partition_date <= {{ as_of_date() }}
        and reason not like 'superseded by a later %'
        and reason not like 'duplicate customer_id in this file (same values as row %'

),

read_back as (

    select
        file,
        {{ adapter.quote('row') }} as source_row,
        {{ adapter.quote('column') }} as refused_column,
        reason,
        _partition_date,
        {{ reengage.refused_field('raw_record', 'customer_id') }} as customer_id,
        lower({{ reengage.refused_field('raw_record', 'email') }}) as email,
        {{ reengage.refused_field('raw_record', 'marketing_consent') }} as marketing_consent_text,
        {{ reengage.refused_field('raw_record', 'updated_at') }} as updated_at_text
    from refused_rows

),

final as (

    select
        {{ dbt.hash(dbt.concat(["file", "'|'", "cast(source_row as " ~ dbt.type_string() ~ ")"])) }}
            as refused_row_id,
        customer_id,
        email,
        {{ reengage.reads_as_consent_withdrawal('marketing_consent_text') }} as withdraws_consent,
        {{ reengage.to_utc_timestamp(reengage.try_iso_timestamp('updated_at_text')) }} as updated_at,
        _partition_date as partition_date,
        file as source_file,
        source_row,
        refused_column,
        reason as refusal_reason

    from read_back

)

select * from final
