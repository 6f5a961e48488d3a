with

refused_rows as (

    {{ reengage.refused_rows('customers') }}

),

informative_rows as (

    -- A row quarantined only because a later row of the same customer in the
    -- same file superseded it, or because an identical copy of it was loaded,
    -- refused nothing: the loaded row says it all
    -- (reengage/defs/ingest/parse.py, _duplicates).
    select *
    from refused_rows
    where
        refusal_reason not like 'superseded by a later %'
        and refusal_reason not like 'duplicate customer_id in this file (same values as row %'

),

read_back as (

    select
        *,
        {{ reengage.refused_field('raw_record', 'customer_id') }} as customer_id,
        lower({{ reengage.refused_field('raw_record', 'email') }}) as email,
        {{ reengage.refused_field('raw_record', 'phone') }} as phone,
        {{ reengage.refused_field('raw_record', 'marketing_consent') }} as marketing_consent_text,
        {{ reengage.refused_field('raw_record', 'sms_consent') }} as sms_consent_text,
        {{ reengage.refused_field('raw_record', 'updated_at') }} as updated_at_text
    from informative_rows

),

final as (

    select
        refused_row_id,
        customer_id,
        email,
        phone,
        {{ reengage.reads_as_consent_withdrawal('marketing_consent_text') }} as withdraws_consent,
        {{ reengage.reads_as_consent_withdrawal('sms_consent_text') }} as withdraws_sms_consent,
        {{ reengage.to_utc_timestamp(reengage.try_iso_timestamp('updated_at_text')) }} as updated_at,
        partition_date,
        source_file,
        source_row,
        refused_column,
        refusal_reason

    from read_back

)

select * from final
