{#
    How the project's tables are stored on Spark: Parquet (dbt_project.yml
    +file_format), by day where a model's meta names its day column, with
    their not_null constraints checked as they are written.
#}

{#-
    dbt-spark's `partitioned by` clause. A model whose config meta names a
    `day_partition` (a date column) is stored one folder per day of it, so a
    daily run rewrites only the days it changes (macros/spark/incremental.sql).
    The column must be declared not_null: a null day would land in a folder
    no day names. Spark lists the column last in the table.
-#}
{% macro spark__partition_cols(label, required=false) -%}
    {%- set cols = config.get('partition_by', validator=validation.any[list, basestring]) -%}
    {%- if cols is none -%}
        {%- set day = reengage.day_partition_column() -%}
        {%- set cols = [day] if day else none -%}
    {%- endif -%}
    {%- if cols is not none %}
        {%- if cols is string -%}
            {%- set cols = [cols] -%}
        {%- endif %}
    {{ label }} ({{ cols | join(', ') }})
    {%- endif %}
{%- endmacro %}

{#- The model's day column (config meta day_partition), checked to be a not_null date; or none. -#}
{% macro day_partition_column() -%}
    {%- set day = (config.get('meta') or {}).get('day_partition') -%}
    {%- if not day or not execute -%}
        {{ return(day or none) }}
    {%- endif -%}
    {%- set column = model.columns.get(day) -%}
    {%- if column is none
        or (column.data_type | lower) != 'date'
        or not (column.constraints | selectattr('type', 'equalto', 'not_null') | list) -%}
        {{ exceptions.raise_compiler_error(
            model.name ~ ": meta day_partition names " ~ day
            ~ ", which its contract must declare as a date with a not_null constraint"
        ) }}
    {%- endif -%}
    {{ return(day) }}
{%- endmacro %}

{#-
    A Parquet table holds no constraint: Spark accepts a not null column
    and stores nulls in it. So contract_columns checks each not_null column
    itself, after the cast (with ANSI off a failed cast is a null too), and
    a null stops the statement with the column's name, before anything is
    written, as the constraint stops DuckDB's and PostgreSQL's insert.
-#}
{% macro spark__contract_column(column) -%}
    {%- set cast = dbt.cast(column.name, column.data_type) -%}
    {%- if column.constraints | selectattr('type', 'equalto', 'not_null') | list -%}
        case
            when {{ cast }} is null
                then raise_error('{{ model.schema }}.{{ model.name }}.{{ column.name }} is null: its contract declares it not null')
            else {{ cast }}
        end
    {%- else -%}
        {{ cast }}
    {%- endif -%}
{%- endmacro %}
