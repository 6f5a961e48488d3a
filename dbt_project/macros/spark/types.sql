{#
    Type names and date arithmetic on Spark, as dbt's own macros would write
    them there, overridden for the whole project (dbt looks in the root
    project first).
#}

{#- The contracts' and seeds' type names as Spark spells them: varchar and text are string (Spark
    wants a length on varchar), double precision is double. timestamp needs no translation: the
    profile makes it timestamp_ntz, as DuckDB's and PostgreSQL's timestamp. -#}
{% macro spark_type(data_type) -%}
    {%- set spelled = {'varchar': 'string', 'text': 'string', 'double precision': 'double'} -%}
    {{ return(spelled.get(data_type | trim | lower, data_type)) }}
{%- endmacro %}

{#- dbt's cast, which contract_columns and dbt's contract check (get_empty_schema_sql) both use. -#}
{% macro spark__cast(field, type) -%}
    cast({{ field }} as {{ reengage.spark_type(type) }})
{%- endmacro %}

{#- dbt-spark's dateadd goes through Unix seconds and drops a timestamp's fraction of a second
    (12:00:00.7 plus an hour was 13:00:00); timestampadd keeps it, as DuckDB's and PostgreSQL's
    interval arithmetic does. A date is read as its midnight and a timestamp comes back, as there. -#}
{% macro spark__dateadd(datepart, interval, from_date_or_timestamp) -%}
    timestampadd({{ datepart | upper }}, cast({{ interval }} as bigint), {{ from_date_or_timestamp }})
{%- endmacro %}
