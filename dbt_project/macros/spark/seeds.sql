{#
    Seeds on Spark. dbt-spark's session connection binds every value as
    quoted text and a missing one as the text 'None' (its _fix_binding), so
    an empty cell of event_catalog.csv became the string 'None', not null.
    The rows are written as literals here, null as null, and the seeds'
    column_types (varchar) are spelled as Spark spells them (spark_type).
#}

{% macro spark_seed_column_type(model, agate_table, index) -%}
    {%- set name = agate_table.column_names[index] -%}
    {%- set declared = model['config'].get('column_types', {}).get(name) -%}
    {{ return(reengage.spark_type(declared or adapter.convert_type(agate_table, index))) }}
{%- endmacro %}

{#- A seed value as a Spark literal of its type. Text holding a quote or a backslash is written as
    its UTF-8 bytes in hex: with escapedStringLiterals (the profile) no escape in a literal works. -#}
{% macro spark_seed_literal(value, type) -%}
    {%- if value is none -%}
        {{ return('cast(null as ' ~ type ~ ')') }}
    {%- endif -%}
    {%- if value is sameas true or value is sameas false -%}
        {%- set text = 'true' if value else 'false' -%}
    {%- elif value.isoformat is defined -%}
        {%- set text = value.isoformat() -%}
    {%- else -%}
        {%- set text = value | string -%}
    {%- endif -%}
    {%- if "'" in text or "\\" in text -%}
        {%- set hex = text.encode('utf-8').hex() -%}
        {{ return("cast(decode(unhex('" ~ hex ~ "'), 'UTF-8') as " ~ type ~ ")") }}
    {%- endif -%}
    {{ return("cast('" ~ text ~ "' as " ~ type ~ ")") }}
{%- endmacro %}

{% macro spark__create_csv_table(model, agate_table) %}
    {%- set quote_seed_column = model['config'].get('quote_columns', None) -%}
    {% set sql %}
        create table {{ this.render() }} (
            {%- for col_name in agate_table.column_names -%}
                {{ adapter.quote_seed_column(col_name | string, quote_seed_column) }}
                {{ reengage.spark_seed_column_type(model, agate_table, loop.index0) }}
                {%- if not loop.last -%}, {%- endif -%}
            {%- endfor -%}
        )
        {{ file_format_clause() }}
        {{ partition_cols(label="partitioned by") }}
        {{ location_clause() }}
        {{ comment_clause() }}
    {% endset %}
    {% call statement('_') -%}
        {{ sql }}
    {%- endcall %}
    {{ return(sql) }}
{% endmacro %}

{% macro spark__load_csv_rows(model, agate_table) %}
    {%- set types = [] -%}
    {%- for col_name in agate_table.column_names -%}
        {%- do types.append(reengage.spark_seed_column_type(model, agate_table, loop.index0)) -%}
    {%- endfor -%}
    {%- set statements = [] -%}
    {%- for chunk in agate_table.rows | batch(get_batch_size()) %}
        {%- set sql -%}
            insert into {{ this.render() }} values
            {%- for row in chunk %}
            (
                {%- for value in row -%}
                    {{ reengage.spark_seed_literal(value, types[loop.index0]) }}{{ ", " if not loop.last }}
                {%- endfor -%}
            ){{ "," if not loop.last }}
            {%- endfor %}
        {%- endset -%}
        {%- do adapter.add_query(sql, abridge_sql_log=True) -%}
        {%- if loop.first -%}
            {%- do statements.append(sql) -%}
        {%- endif -%}
    {%- endfor %}
    {{ return(statements[0] if statements else '') }}
{% endmacro %}
