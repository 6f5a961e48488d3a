{#
    A CTE's materialization hint, `materialized` or `not materialized`
    (`with rows as {{ reengage.cte_hint('materialized') }} (...)`): DuckDB
    and PostgreSQL compute a CTE read several times once, or inline it
    where it is read, as the model asks. Nothing on an engine without the
    hint (Spark plans its CTEs itself); the rows are the same either way.
#}
{% macro cte_hint(hint) -%}
    {%- if hint not in ('materialized', 'not materialized') -%}
        {{ exceptions.raise_compiler_error("cte_hint takes 'materialized' or 'not materialized', got " ~ hint) }}
    {%- endif -%}
    {{ return(adapter.dispatch('cte_hint', 'reengage')(hint)) }}
{%- endmacro %}

{% macro default__cte_hint(hint) -%}
    {{ hint }}
{%- endmacro %}
