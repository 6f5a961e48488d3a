{#
    The as-of date D comes from var('run_date') (Dagster passes the partition
    date). As-of models only count data strictly before the end of D, i.e.
    before midnight UTC at the start of D + 1.
#}

{% macro as_of_date() -%}
    cast('{{ var("run_date") }}' as date)
{%- endmacro %}

{# Exclusive upper bound: the first instant after D, as a naive UTC timestamp. #}
{% macro as_of_end() -%}
    cast({{ dbt.dateadd('day', 1, reengage.as_of_date()) }} as {{ dbt.type_timestamp() }})
{%- endmacro %}

{# Inclusive lower bound of the `days` calendar days ending D (days=7 -> D-6). #}
{% macro window_start(days) -%}
    cast({{ dbt.dateadd('day', 1 - days | int, reengage.as_of_date()) }} as date)
{%- endmacro %}

{# Whole calendar days from a timestamp or date to D (0 when on D). #}
{% macro days_before_as_of(column) -%}
    {{ dbt.datediff('cast(' ~ column ~ ' as date)', reengage.as_of_date(), 'day') }}
{%- endmacro %}
