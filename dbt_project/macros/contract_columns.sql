{#
    The final select of a model whose contract is enforced: every column the
    model's YAML declares, in its order, cast to its declared data_type. The
    types are written once (the YAML, which dbt checks at build and Python
    reads from the manifest) and come out the same on every engine: without
    the casts DuckDB and PostgreSQL type the same expressions differently
    (a date difference is a bigint on one and an integer on the other).
#}
{% macro contract_columns(relation) -%}
    {#- A unit test compiles the model as its own node, which declares no columns: it compares rows. -#}
    {%- if not model.columns -%}
    select * from {{ relation }}
    {%- else -%}
    select
    {%- for column in model.columns.values() %}
        cast({{ column.name }} as {{ column.data_type }}) as {{ column.name }}{{ "," if not loop.last }}
    {%- endfor %}
    from {{ relation }}
    {%- endif -%}
{%- endmacro %}
