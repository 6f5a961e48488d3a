{#
    The final select of a model whose contract is enforced: every column the
    model's YAML declares, in its order, cast to its declared data_type. The
    types are written once (the YAML, which dbt checks at build and Python
    reads from the manifest) and come out the same on every engine: without
    the casts DuckDB and PostgreSQL type the same expressions differently
    (a date difference is a bigint on one and an integer on the other).
    The cast is dbt's (`dbt.cast`), which dbt's own contract check uses too,
    so an engine that spells a type otherwise (Spark: varchar is string)
    translates it in one place (macros/spark/types.sql).
#}
{% macro contract_columns(relation) -%}
    {#- A unit test compiles the model as its own node, which declares no columns: it compares rows. -#}
    {%- if not model.columns -%}
    select * from {{ relation }}
    {%- else -%}
    select
    {%- for column in model.columns.values() %}
        {{ reengage.contract_column(column) }} as {{ column.name }}{{ "," if not loop.last }}
    {%- endfor %}
    from {{ relation }}
    {%- endif -%}
{%- endmacro %}

{#
    One column of contract_columns: cast to its declared type. DuckDB and
    PostgreSQL refuse a null in a column declared not_null when the table is
    written (the constraint dbt creates); an engine whose tables cannot hold
    the constraint refuses it in the select instead (Spark: macros/spark/tables.sql).
#}
{% macro contract_column(column) -%}
    {{ return(adapter.dispatch('contract_column', 'reengage')(column)) }}
{%- endmacro %}

{% macro default__contract_column(column) -%}
    {{ dbt.cast(column.name, column.data_type) }}
{%- endmacro %}
