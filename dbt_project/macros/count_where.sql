{#
    Rows of the group where `condition` holds, as a bigint on every engine
    (`count(*) filter (where ...)` and `count_if` are not portable, and
    DuckDB's sum() of integers returns a 128-bit integer).
#}
{% macro count_where(condition) -%}
    cast(sum(case when {{ condition }} then 1 else 0 end) as {{ dbt.type_bigint() }})
{%- endmacro %}

{#
    A 64-bit float on every engine (dbt.type_float() is a 32-bit FLOAT on
    DuckDB but double precision on PostgreSQL, so rates would differ).
#}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double', 'reengage')()) }}
{%- endmacro %}

{% macro default__type_double() -%}
    double precision
{%- endmacro %}
