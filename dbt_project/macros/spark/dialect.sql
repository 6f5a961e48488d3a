{#
    Spark bodies of the project's dispatched macros: each says in Spark SQL
    what its default body says in DuckDB's and PostgreSQL's (the meaning is
    written beside the dispatcher, in macros/). Spark specifics they rely on,
    set by the `spark` profile: the session time zone is UTC, `timestamp` is
    a time without a zone (timestamp_ntz) and `timestamp_ltz` an instant
    (timestamptz), string literals keep their backslashes (regexes read as
    written), and ANSI mode is off, so a failed cast or parse gives null.
    That last one also hides mistakes: Spark takes a fourth argument of
    regexp_replace as a position, and `substring(x from 'regex')` as an
    offset, and both then return null without an error. Read values back
    (tests/spark compares every model with the DuckDB build).
#}

{% macro spark__to_utc_timestamp(column) -%}
    cast({{ column }} as timestamp_ntz)
{%- endmacro %}

{# from_utc_timestamp reads its argument as UTC and gives the zone's wall-clock time. #}
{% macro spark__to_local_timestamp(ts, tz) -%}
    from_utc_timestamp({{ ts }}, {{ tz }})
{%- endmacro %}

{#- Spark orders structs field by field, as DuckDB orders the row value of its arg_min / arg_max. -#}
{% macro spark__first_by(value, order_by, descending) -%}
    {{ 'max_by' if descending else 'min_by' }}({{ value }}, struct({{ order_by | join(', ') }})) filter (where {{ value }} is not null)
{%- endmacro %}

{#- Null for text that is not JSON. `$.field`, not `$."field"` (Spark returns null for the quoted
    form); the fields read are plain names. -#}
{% macro spark__json_text_field(document, field) -%}
    get_json_object({{ document }}, '$.{{ field }}')
{%- endmacro %}

{% macro spark__quoted_member(text, field) -%}
    nullif(regexp_extract({{ text }}, '"{{ field }}"\s*:\s*"([^"\\]*)"', 1), '')
{%- endmacro %}

{#- A cast gives null for text that is no valid instant; an offset is honoured, text without one
    is read in the session's zone, UTC. -#}
{% macro spark__try_iso_timestamp(text) -%}
    cast({{ text }} as timestamp_ltz)
{%- endmacro %}

{% macro spark__try_unix_timestamp(text) -%}
    case
        -- up to 11 digits: beyond year 5138 it is not seconds (ingest's rule too)
        when {{ text }} rlike '^-?[0-9]{1,11}(\.[0-9]+)?$' then timestamp_seconds(cast({{ text }} as double))
    end
{%- endmacro %}

{% macro spark__utc_midnight_tz(day) -%}
    cast('{{ day }} 00:00:00+00:00' as timestamp_ltz)
{%- endmacro %}

{% macro spark__type_double() -%}
    double
{%- endmacro %}

{#- Spark's regexp_replace replaces every match (it takes no 'g' flag: a fourth argument is a
    position, and with ANSI off a wrong one silently gives null). -#}
{% macro spark__replace_every(expr, pattern, replacement) -%}
    regexp_replace({{ expr }}, {{ pattern }}, {{ replacement }})
{%- endmacro %}

{% macro spark__matches(expr, pattern) -%}
    ({{ expr }} rlike {{ pattern }})
{%- endmacro %}

{% macro spark__cte_hint(hint) -%}
{%- endmacro %}

{#- Parquet tables hold no constraint to add: contract_column refuses nulls as rows are written
    (macros/spark/tables.sql). -#}
{% macro spark__add_missing_not_null_constraints() -%}
{%- endmacro %}
