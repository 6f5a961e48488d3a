{#
    Run before every model (pre-hook in dbt_project.yml); does something only on an
    incremental run. Its contract's not_null constraints are what checks a column for nulls
    (there is no not_null data test beside them), but dbt writes them only when it creates the
    table: a table an earlier version created without them would take nulls unchecked until a
    full refresh. So an incremental run first adds each not_null constraint the contract declares
    and the stored table lacks. The ALTER checks the stored rows; a null among them fails the run,
    naming table and column, before anything is written. When the table has them all, the cost
    is one catalog query.
#}
{% macro add_missing_not_null_constraints() -%}
    {{ return(adapter.dispatch('add_missing_not_null_constraints', 'reengage')()) }}
{%- endmacro %}

{% macro default__add_missing_not_null_constraints() -%}
    {%- if not execute or not is_incremental() or not config.get('contract').enforced -%}
        {{ return('') }}
    {%- endif -%}
    {%- set declared = [] -%}
    {%- for column in model.columns.values() -%}
        {%- if column.constraints | selectattr('type', 'equalto', 'not_null') | list -%}
            {%- do declared.append(column.name) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if not declared -%}
        {{ return('') }}
    {%- endif -%}
    {%- set nullable_columns -%}
        select column_name
        from information_schema.columns
        where
            table_catalog = '{{ this.database }}'
            and table_schema = '{{ this.schema }}'
            and table_name = '{{ this.identifier }}'
            and is_nullable = 'YES'
    {%- endset -%}
    {%- set nullable = run_query(nullable_columns).columns[0].values() -%}
    {%- for column in declared if column in nullable %}
    alter table {{ this }} alter column {{ column }} set not null;
    {%- endfor %}
{%- endmacro %}
