{#
    Incremental models on Spark.

    A Parquet table cannot delete or update rows: Spark appends to it,
    rewrites it whole, or rewrites some of its day folders (dynamic partition
    overwrite). Every incremental strategy of the project is a delete of some
    stored rows followed by an insert of the new ones (macros/incremental/
    strategies.sql; dbt's delete+insert). On Spark each states its delete as
    a condition on the stored rows, `deleted` (aliased `stored`; built of
    EXISTS and IS NULL only, so it is never null and `not (deleted)` is
    exactly the rows the delete keeps), and spark_replace_rows applies it:

    - nothing stored is deleted: the new rows are appended;
    - a table stored by day (meta day_partition): the days holding a deleted
      row or a new row are rewritten, each as its stored rows minus the
      deleted ones plus its new rows, in one statement; a day left with no
      row at all is dropped. Every other day is untouched. Rows never move
      between days (a row's day is one of its columns), so the table equals
      what the delete and insert leave, day by day;
    - any other table is rewritten whole, through a staging table (Spark
      cannot overwrite a table it reads in the same statement unless it
      writes it by day).

    The statements run one after another: unlike DuckDB's and PostgreSQL's
    transaction, a run that fails between them can leave a day rewritten and
    another not; the next run, or a full refresh, writes them again. Which
    model is stored how: docs/deployment.md (The dbt models on Apache Spark).
#}

{# dbt-spark knows append, merge, insert_overwrite and microbatch; the project's strategies are these. #}
{% macro spark_replacing_strategies() -%}
    {{ return(['delete+insert', 'rebuild_owner_tails', 'append_with_relinks']) }}
{%- endmacro %}

{% macro dbt_spark_validate_get_incremental_strategy(raw_strategy, file_format) -%}
    {%- if raw_strategy in reengage.spark_replacing_strategies() -%}
        {{ return(raw_strategy) }}
    {%- endif -%}
    {{ return(dbt.dbt_spark_validate_get_incremental_strategy(raw_strategy, file_format)) }}
{%- endmacro %}

{% macro dbt_spark_get_incremental_sql(strategy, source, target, existing, unique_key, incremental_predicates) -%}
    {%- if strategy not in reengage.spark_replacing_strategies() -%}
        {{ return(dbt.dbt_spark_get_incremental_sql(strategy, source, target, existing, unique_key, incremental_predicates)) }}
    {%- endif -%}
    {%- set strategy_sql = context['get_incremental_' ~ (strategy | replace('+', '_')) ~ '_sql'] -%}
    {{ return(strategy_sql({
        'target_relation': target,
        'temp_relation': source,
        'unique_key': unique_key,
        'dest_columns': adapter.get_columns_in_relation(existing),
        'incremental_predicates': incremental_predicates,
    })) }}
{%- endmacro %}

{#- dbt's delete+insert (int_identity_links, int_customer_activity_summary): the stored rows whose
    unique key a new row has. -#}
{% macro spark__get_delete_insert_merge_sql(target, source, unique_key, dest_columns, incremental_predicates) -%}
    {%- if incremental_predicates -%}
        {{ exceptions.raise_compiler_error("delete+insert with incremental_predicates is not written for Spark") }}
    {%- endif -%}
    {%- if not unique_key -%}
        {{ return(reengage.spark_replace_rows(target, source, dest_columns, none)) }}
    {%- endif -%}
    {%- set keys = [unique_key] if unique_key is string else unique_key -%}
    {%- set deleted -%}
        exists (
            select 1
            from {{ source }} as replacing
            where
                {%- for key in keys %}
                replacing.{{ key }} = stored.{{ key }}{{ ' and' if not loop.last }}
                {%- endfor %}
        )
    {%- endset -%}
    {{ return(reengage.spark_replace_rows(target, source, dest_columns, deleted)) }}
{%- endmacro %}

{#- rebuild_owner_tails: each listed owner's rows from its rebuild point on (DuckDB's delete splits the
    owners in two tiers to skip row groups; together the tiers are this condition). -#}
{% macro spark__get_incremental_rebuild_owner_tails_sql(arg_dict) -%}
    {%- set spec = (config.get('meta') or {}).get('rebuild_owner_tails') -%}
    {%- if not spec -%}
        {{ exceptions.raise_compiler_error("incremental_strategy rebuild_owner_tails needs config meta.rebuild_owner_tails") }}
    {%- endif -%}
    {%- set deleted -%}
        exists (
            select 1
            from {{ ref('int_session_rebuilds') }} as rebuilds
            where
                rebuilds.{{ spec['owner_key'] }} = stored.{{ spec['owner_column'] }}
                and stored.{{ spec['since_column'] }} >= rebuilds.{{ spec['since_key'] }}
        )
    {%- endset -%}
    {{ return(reengage.spark_replace_rows(
        arg_dict['target_relation'], arg_dict['temp_relation'], arg_dict['dest_columns'], deleted
    )) }}
{%- endmacro %}

{#- append_with_relinks: the stored anonymous events of relinked devices that the new rows stitch again. -#}
{% macro spark__get_incremental_append_with_relinks_sql(arg_dict) -%}
    {%- set source = arg_dict['temp_relation'] -%}
    {%- set deleted -%}
        stored.user_id is null
        and exists (
            select 1
            from {{ ref('int_identity_relinks') }} as relinks
            where relinks.anonymous_id = stored.anonymous_id
        )
        and exists (
            select 1
            from {{ source }} as restitched
            where restitched.user_id is null and restitched.event_id = stored.event_id
        )
    {%- endset -%}
    {{ return(reengage.spark_replace_rows(arg_dict['target_relation'], source, arg_dict['dest_columns'], deleted)) }}
{%- endmacro %}

{#-
    Replace the stored rows of `target` matching `deleted` (none: no row) by the rows of `source`.
    Runs every statement but the last and returns the last, which dbt runs as the model's main one.
-#}
{% macro spark_replace_rows(target, source, dest_columns, deleted) -%}
    {%- set columns = dest_columns | map(attribute='quoted') | join(', ') -%}
    {%- set append = 'insert into table ' ~ target ~ ' select ' ~ columns ~ ' from ' ~ source -%}
    {%- if deleted is none -%}
        {{ return(append) }}
    {%- endif -%}
    {%- set day = reengage.day_partition_column() -%}
    {%- if not day -%}
        {{ return(reengage.spark_rewrite_table(target, source, columns, deleted)) }}
    {%- endif -%}
    {%- set deleted_days = reengage.spark_distinct_days(
        'select distinct stored.' ~ day ~ ' from ' ~ target ~ ' as stored where ' ~ deleted
    ) -%}
    {%- if not deleted_days -%}
        {{ return(append) }}
    {%- endif -%}
    {%- set new_days = reengage.spark_distinct_days('select distinct ' ~ day ~ ' from ' ~ source) -%}
    {%- set rewritten = (deleted_days + new_days) | unique | sort | list -%}
    {#- a day that loses rows and gains none keeps only rows the delete leaves, if any -#}
    {%- set emptied = [] -%}
    {%- set losing_only = deleted_days | reject('in', new_days) | list -%}
    {%- if losing_only -%}
        {%- set kept_days = reengage.spark_distinct_days(
            'select distinct stored.' ~ day ~ ' from ' ~ target ~ ' as stored'
            ~ ' where stored.' ~ day ~ ' in (' ~ reengage.spark_date_literals(losing_only) ~ ') and not (' ~ deleted ~ ')'
        ) -%}
        {%- set emptied = losing_only | reject('in', kept_days) | list -%}
    {%- endif -%}
    {#- only the days written are replaced, whatever the session had set -#}
    {%- do run_query('set spark.sql.sources.partitionOverwriteMode = DYNAMIC') -%}
    {%- set rewrite -%}
        insert overwrite table {{ target }} partition ({{ day }})
        select {{ columns }}
        from {{ target }} as stored
        where
            stored.{{ day }} in ({{ reengage.spark_date_literals(rewritten) }})
            and not ({{ deleted }})
        union all
        select {{ columns }}
        from {{ source }}
    {%- endset -%}
    {%- if not emptied -%}
        {{ return(rewrite) }}
    {%- endif -%}
    {%- do run_query(rewrite) -%}
    {%- set folders = [] -%}
    {%- for emptied_day in emptied -%}
        {%- do folders.append('partition (' ~ day ~ ' = ' ~ reengage.spark_date_literals([emptied_day]) ~ ')') -%}
    {%- endfor -%}
    {{ return('alter table ' ~ target ~ ' drop if exists ' ~ folders | join(', ')) }}
{%- endmacro %}

{#- The whole table as its rows the delete keeps plus the new ones, written beside it, then over it. -#}
{% macro spark_rewrite_table(target, source, columns, deleted) -%}
    {%- set staging = target.incorporate(path={'identifier': target.identifier ~ '__dbt_rewrite'}) -%}
    {%- do run_query('drop table if exists ' ~ staging) -%}
    {%- set keep_and_add -%}
        create table {{ staging }} using parquet as
        select {{ columns }}
        from {{ target }} as stored
        where not ({{ deleted }})
        union all
        select {{ columns }}
        from {{ source }}
    {%- endset -%}
    {%- do run_query(keep_and_add) -%}
    {%- do run_query('insert overwrite table ' ~ target ~ ' select ' ~ columns ~ ' from ' ~ staging) -%}
    {{ return('drop table ' ~ staging) }}
{%- endmacro %}

{#- The dates a one-column query returns; a null one is refused (days are declared not null). -#}
{% macro spark_distinct_days(query) -%}
    {%- set days = run_query(query).columns[0].values() | list -%}
    {%- if none in days -%}
        {{ exceptions.raise_compiler_error(model.name ~ ": a stored or new row has no day (" ~ query ~ ")") }}
    {%- endif -%}
    {{ return(days) }}
{%- endmacro %}

{% macro spark_date_literals(days) -%}
    {%- set literals = [] -%}
    {%- for day in days -%}
        {%- do literals.append("date'" ~ day.strftime('%Y-%m-%d') ~ "'") -%}
    {%- endfor -%}
    {{ return(literals | join(', ')) }}
{%- endmacro %}
