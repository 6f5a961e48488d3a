{#
    A full build's two biggest steps, sessionizing every event and
    aggregating every session, sort or hash all events at once. Past
    DuckDB's memory_limit they spill to disk: at 50M events and 4GB that
    cost int_events_sessionized 200 s instead of 120 s and fct_sessions 43 s
    instead of 26 s. Split by owner into UNION ALL branches, DuckDB runs the
    branches one after another and each fits in memory. An owner's events
    all fall in one branch, so every branch sees whole timelines.

    Use as a call block; the caller gets the branch's filter:

        {% call(owner_filter) reengage.union_all_owner_buckets('session_aggregates', 'session_owner') %}
            select ... from {{ ref('int_events_sessionized') }} where {{ owner_filter }} group by ...
        {% endcall %}

    step names an entry of var('full_build_owner_buckets') (how many
    branches); split=false gives one branch (an incremental run's few
    owners). Read each relation inside the block, not from a CTE: DuckDB
    would materialize a CTE read by every branch, every row at once.
#}
{% macro union_all_owner_buckets(step, owner_key, split=true) -%}
    {%- set buckets = reengage.owner_bucket_count(step) if split else 1 -%}
    {%- for bucket in range(buckets) %}
    {%- if not loop.first %}
    union all
    {%- endif %}
    select * from (
        {{ caller(reengage.owner_bucket_filter(owner_key, bucket, buckets)) }}
    ) as owner_bucket_{{ bucket }}
    {%- endfor %}
{%- endmacro %}

{#- Branches for `step` on DuckDB; 1 elsewhere: PostgreSQL and the cloud
    warehouses plan their own memory. -#}
{% macro owner_bucket_count(step) -%}
    {%- if target.type != 'duckdb' -%}
        {{ return(1) }}
    {%- endif -%}
    {%- set configured = var('full_build_owner_buckets', {}).get(step, 1) -%}
    {%- if configured | int < 1 -%}
        {{ exceptions.raise_compiler_error(
            "var('full_build_owner_buckets')['" ~ step ~ "'] must be 1 or more, got " ~ configured
        ) }}
    {%- endif -%}
    {{ return(configured | int) }}
{%- endmacro %}

{% macro owner_bucket_filter(owner_key, bucket, buckets) -%}
    {%- if buckets == 1 -%}
        1 = 1
    {%- else -%}
        hash({{ owner_key }}) % {{ buckets }} = {{ bucket }}
    {%- endif -%}
{%- endmacro %}
