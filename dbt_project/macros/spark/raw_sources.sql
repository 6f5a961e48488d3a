{#
    The on-run-start hook that makes the raw tables (dbt sources in schema
    `raw`) readable. On DuckDB and PostgreSQL they are the warehouse's own
    tables, written by ingest: nothing to do. On Spark they are Parquet
    files under <spark home>/raw/<table>/, a folder per load day
    (_partition_date=YYYY-MM-DD/, reengage/spark/raw_export.py), registered
    here as external tables before every run: dropped and made again, so a
    table's columns are always those of its files (a column a migration
    added included), Spark infers the day partitioning from the folder
    names (a date column, listed last), and `msck repair` finds the day
    folders, so days landed since the last run are seen and a build of a
    few days reads only theirs. Dropping an external table leaves its files
    alone.
#}
{% macro register_raw_sources() -%}
    {{ return(adapter.dispatch('register_raw_sources', 'reengage')()) }}
{%- endmacro %}

{% macro default__register_raw_sources() -%}
{%- endmacro %}

{% macro spark__register_raw_sources() -%}
    {%- if execute -%}
        {#- the profile's folder (profiles.yml and reengage/spark/layout.py agree on raw/) -#}
        {%- set raw_dir = env_var('REENGAGE_SPARK_HOME') ~ '/raw' -%}
        {%- set schemas = [] -%}
        {%- set tables = {} -%}
        {%- for source in graph.sources.values() if source.source_name == 'raw' -%}
            {%- do schemas.append(source.schema) -%}
            {%- do tables.update({source.schema ~ '.' ~ source.identifier: raw_dir ~ '/' ~ source.identifier}) -%}
        {%- endfor -%}
        {#- the session runs one statement per call -#}
        {%- for schema in schemas | unique -%}
            {%- do run_query('create schema if not exists ' ~ schema) -%}
        {%- endfor -%}
        {%- for table, folder in tables | dictsort -%}
            {%- do run_query('drop table if exists ' ~ table) -%}
            {%- do run_query('create table ' ~ table ~ " using parquet location '" ~ folder ~ "'") -%}
            {%- do run_query('msck repair table ' ~ table) -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}
