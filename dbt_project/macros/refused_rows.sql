{#
    Reading back what ingest refused.

    raw.quarantine keeps every refused row as text: `raw_record` is the
    record as a JSON object of its fields as exported (text or null), or,
    when the reader could not make a record of the line at all, a JSON
    object holding the line (`_line_text`, JSON Lines) or only its number
    (`_line`, CSV). A refused row still tells who it was about and what it
    said when a field can be read, and a row that withdraws consent or
    reports an unsubscribe must count even though it was refused.

    Nothing here may fail on a bad record: a field that cannot be read is
    null. DuckDB and Snowflake have non-failing parsers; PostgreSQL gets two
    small functions that catch the parse error (created before every run by
    create_refused_row_readers, the project's on-run-start hook).
#}


{#
    The refused rows of one export in landing files up to D, with what every
    reading of them shares: a key, where each came from and why it was
    refused, and the record itself for refused_field. A value of a soft
    column set to null in a row that was loaded (row_kept) refused nothing:
    the loaded row says it all.
#}
{% macro refused_rows(export) -%}
    select
        {{ dbt.hash(dbt.concat(["file", "'|'", "cast(" ~ adapter.quote('row') ~ " as " ~ dbt.type_string() ~ ")"])) }}
            as refused_row_id,
        _partition_date as partition_date,
        file as source_file,
        {{ adapter.quote('row') }} as source_row,
        {{ adapter.quote('column') }} as refused_column,
        reason as refusal_reason,
        raw_record
    from {{ source('raw', 'quarantine') }}
    where
        source = '{{ export }}'
        and not row_kept
        and _partition_date <= {{ reengage.as_of_date() }}
{%- endmacro %}


{#
    When a refused row's event counts from: its time when that can be read
    and is not after its file's day, else the start of the file's day (a
    time after the file's day is a clock or parsing error, not a later event).
#}
{% macro refused_row_time(event_at, partition_date) -%}
    case
        when {{ event_at }} < cast({{ dbt.dateadd('day', 1, partition_date) }} as {{ dbt.type_timestamp() }})
            then {{ event_at }}
        else cast({{ partition_date }} as {{ dbt.type_timestamp() }})
    end
{%- endmacro %}


{#
    A field of a refused record as trimmed text, null when absent, empty or
    unreadable. From a JSON Lines line that is not valid JSON (a truncated
    file, say) a field is still read when it appears whole, as a quoted
    string ("customer_id": "c1"); a cut-off value is never guessed.
#}
{% macro refused_field(record, field) -%}
    nullif(trim(coalesce(
        {{ reengage.json_text_field(record, field) }},
        {{ reengage.quoted_member(reengage.json_text_field(record, '_line_text'), field) }}
    )), '')
{%- endmacro %}


{% macro json_text_field(document, field) -%}
    {{ return(adapter.dispatch('json_text_field', 'reengage')(document, field)) }}
{%- endmacro %}

{% macro default__json_text_field(document, field) -%}
    {{ target.schema }}.reengage_json_text({{ document }}, '{{ field }}')
{%- endmacro %}

{% macro duckdb__json_text_field(document, field) -%}
    case
        when json_valid({{ document }}) then json_extract_string({{ document }}, '$."{{ field }}"')
    end
{%- endmacro %}

{% macro snowflake__json_text_field(document, field) -%}
    try_parse_json({{ document }}):"{{ field }}"::string
{%- endmacro %}


{# The value of `"field": "value"` in a text, or null (no escapes inside the value). #}
{% macro quoted_member(text, field) -%}
    {{ return(adapter.dispatch('quoted_member', 'reengage')(text, field)) }}
{%- endmacro %}

{% macro default__quoted_member(text, field) -%}
    substring({{ text }} from '"{{ field }}"\s*:\s*"([^"\\]*)"')
{%- endmacro %}

{% macro duckdb__quoted_member(text, field) -%}
    nullif(regexp_extract({{ text }}, '"{{ field }}"\s*:\s*"([^"\\]*)"', 1), '')
{%- endmacro %}

{% macro snowflake__quoted_member(text, field) -%}
    regexp_substr({{ text }}, '"{{ field }}"\\s*:\\s*"([^"\\\\]*)"', 1, 1, 'e', 1)
{%- endmacro %}


{#
    ISO-8601 text as timestamptz, null when it is no valid instant
    (2026-12-05T25:00:00Z, 2026-02-30, ...). Text without a UTC offset is
    read as UTC, as ingest reads it.
#}
{% macro try_iso_timestamp(text) -%}
    {{ return(adapter.dispatch('try_iso_timestamp', 'reengage')(text)) }}
{%- endmacro %}

{% macro default__try_iso_timestamp(text) -%}
    {{ target.schema }}.reengage_try_timestamptz({{ text }})
{%- endmacro %}

{% macro duckdb__try_iso_timestamp(text) -%}
    case
        when regexp_matches({{ text }}, '([zZ]|[+-]\d{2}(:?\d{2})?)$') then try_cast({{ text }} as timestamptz)
        else timezone('UTC', try_cast({{ text }} as timestamp))
    end
{%- endmacro %}

{% macro snowflake__try_iso_timestamp(text) -%}
    try_to_timestamp_tz({{ text }})
{%- endmacro %}


{# Unix seconds as text (SendGrid's `timestamp`) as timestamptz, null when not a number of seconds. #}
{% macro try_unix_timestamp(text) -%}
    {{ return(adapter.dispatch('try_unix_timestamp', 'reengage')(text)) }}
{%- endmacro %}

{% macro default__try_unix_timestamp(text) -%}
    case
        -- up to 11 digits: beyond year 5138 it is not seconds (ingest's rule too)
        when {{ text }} ~ '^-?[0-9]{1,11}(\.[0-9]+)?$' then to_timestamp(cast({{ text }} as double precision))
    end
{%- endmacro %}

{% macro duckdb__try_unix_timestamp(text) -%}
    case
        when regexp_full_match({{ text }}, '-?[0-9]{1,11}(\.[0-9]+)?') then to_timestamp(cast({{ text }} as double))
    end
{%- endmacro %}

{% macro snowflake__try_unix_timestamp(text) -%}
    case
        when regexp_like({{ text }}, '-?[0-9]{1,11}(\\.[0-9]+)?') then to_timestamp_tz(cast({{ text }} as double))
    end
{%- endmacro %}


{#
    Whether a consent value reads as a withdrawal: trimmed, lower-cased, with
    spaces and hyphens as underscores, one of var('consent_withdrawal_values')
    (false, no, 0, opted_out, unsubscribed, ...). Never null.
#}
{% macro reads_as_consent_withdrawal(text) -%}
    coalesce(
        replace(replace(lower(trim({{ text }})), ' ', '_'), '-', '_') in (
            {%- for value in var('consent_withdrawal_values') %}
            '{{ value }}'{{ "," if not loop.last }}
            {%- endfor %}
        ),
        false
    )
{%- endmacro %}


{# The on-run-start hook: PostgreSQL's non-failing readers; nothing elsewhere. #}
{% macro create_refused_row_readers() -%}
    {{ return(adapter.dispatch('create_refused_row_readers', 'reengage')()) }}
{%- endmacro %}

{% macro default__create_refused_row_readers() -%}
{%- endmacro %}

{% macro postgres__create_refused_row_readers() -%}
    create schema if not exists {{ target.schema }};

    -- PostgreSQL cannot hold U+0000 in text and then refuses the whole document:
    -- it becomes U+FFFD so the record's other fields stay readable.
    create or replace function {{ target.schema }}.reengage_json_text(document text, field text)
    returns text language plpgsql immutable as $body$
    begin
        return replace(document, '\u0000', '\ufffd')::json ->> field;
    exception when others then
        return null;
    end
    $body$;

    create or replace function {{ target.schema }}.reengage_try_timestamptz(value text)
    returns timestamptz language plpgsql stable as $body$
    begin
        if value ~ '([zZ]|[+-]\d{2}(:?\d{2})?)$' then
            return value::timestamptz;
        end if;
        return value::timestamp at time zone 'UTC';
    exception when others then
        return null;
    end
    $body$;
{%- endmacro %}


{% macro named_as(expr, names) -%}
    {#- `expr` lower-cased, or the one of `names` it spells with other case or separators
        (`Group-Unsubscribe` is group_unsubscribe), as ingest reads a refused row's names: an
        unsubscribe refused for its timestamp still names an unsubscribe. Names are [a-z0-9_]. -#}
    case {{ reengage.replace_every('lower(' ~ expr ~ ')', "'[^a-z0-9]'", "''") }}
    {%- for name in names %}
        when '{{ name | replace("_", "") }}' then '{{ name }}'
    {%- endfor %}
        else lower({{ expr }})
    end
{%- endmacro %}
