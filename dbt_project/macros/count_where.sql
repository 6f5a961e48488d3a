{#
    Rows of the group where `condition` holds, as a bigint on every engine
    (`count(*) filter (where ...)` and `count_if` are not portable, and
    DuckDB's sum() of integers returns a 128-bit integer).
#}
{% macro count_where(condition) -%}
    cast(sum(case when {{ condition }} then 1 else 0 end) as {{ dbt.type_bigint() }})
{%- endmacro %}
