with

quarantine as (

    select * from {{ source('raw', 'quarantine') }}

),

refused_rows as (

    select *
    from quarantine
    where
        source = 'email_events'
        and _partition_date <= {{ as_of_date() }}

),

read_back as (

    select
        file,
        {{ adapter.quote('row') }} as source_row,
        {{ adapter.quote('column') }} as refused_column,
        reason,
        _partition_date,
        lower({{ reengage.refused_field('raw_record', 'email') }}) as email,
        lower({{ reengage.refused_field('raw_record', 'event') }}) as event,
        {{ reengage.refused_field('raw_record', 'timestamp') }} as timestamp_text,
        {{ reengage.refused_field('raw_record', 'reason') }} as provider_reason
    from refused_rows

),

final as (

    select
        {{ dbt.hash(dbt.concat(["file", "'|'", "cast(source_row as " ~ dbt.type_string() ~ ")"])) }}
            as refused_row_id,
        email,
        event,
        {{ reengage.to_utc_timestamp(reengage.try_unix_timestamp('timestamp_text')) }} as event_at,
        provider_reason,
        _partition_date as partition_date,
        file as source_file,
        source_row,
        refused_column,
        reason as refusal_reason

    from read_back

)

select * from final
