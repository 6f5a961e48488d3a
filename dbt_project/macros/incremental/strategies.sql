{#
    Incremental strategy `rebuild_owner_tails` (int_events_sessionized,
    fct_sessions, fct_user_daily_activity and the per-customer-day rollups):
    delete, per owner listed in int_session_rebuilds, every row from the
    rebuild point on, then insert the recomputed rows. Plain delete+insert on
    the primary key is not enough: a session can vanish (two sessions merged
    by a late event, or a device's anonymous session re-attributed to a
    customer) and its old row would stay. All statements run in the model's
    transaction.

    The delete runs in two parts so a daily run does not read the whole
    table: owners rebuilt from the window on (nearly all) can only lose rows
    from rebuild_tail_floor() on, a constant bound that lets DuckDB skip the
    older row groups (these tables are stored in date order: full builds
    sort by date, int_events_sessionized's keeps the load order of the
    stitched events it joins, and daily runs append; in another order the
    delete is only slower); the few owners rebuilt from further
    back (a late event, a re-attributed device) are matched over the whole
    table.

    The model says which of its columns identify the owner and the time with
    config meta `rebuild_owner_tails`: {owner_column, owner_key, since_column, since_key}
    where owner_key / since_key are int_session_rebuilds columns.

    Spark cannot delete from a Parquet table: there both strategies below
    state the same delete as a condition and rewrite the days holding the
    rows it matches (macros/spark/incremental.sql).
#}
{% macro get_incremental_rebuild_owner_tails_sql(arg_dict) -%}
    {{ return(adapter.dispatch('get_incremental_rebuild_owner_tails_sql', 'reengage')(arg_dict)) }}
{%- endmacro %}

{% macro default__get_incremental_rebuild_owner_tails_sql(arg_dict) -%}
    {%- set spec = (config.get('meta') or {}).get('rebuild_owner_tails') -%}
    {%- if not spec -%}
        {{ exceptions.raise_compiler_error("incremental_strategy rebuild_owner_tails needs config meta.rebuild_owner_tails") }}
    {%- endif -%}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set source = arg_dict['temp_relation'] -%}
    {%- set dest_cols_csv = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    {%- set floor = "cast('" ~ reengage.rebuild_tail_floor() ~ "' as date)" -%}
    {%- for recent in [true, false] %}
    {%- set tier = reengage.rebuild_tier_condition('rebuilds.' ~ spec['since_key'], 'recent' if recent else 'older') %}
    delete from {{ target }} as DBT_INTERNAL_DEST
    where
        {%- if recent %}
        DBT_INTERNAL_DEST.{{ spec['since_column'] }} >= {{ floor }} and
        {%- endif %}
        {# the IN list first: a plain semi join DuckDB can push into the scan;
           the correlated EXISTS alone made it group every row of the table #}
        DBT_INTERNAL_DEST.{{ spec['owner_column'] }} in (
            select rebuilds.{{ spec['owner_key'] }}
            from {{ ref('int_session_rebuilds') }} as rebuilds
            where {{ tier }}
        )
        and exists (
            select 1
            from {{ ref('int_session_rebuilds') }} as rebuilds
            where
                rebuilds.{{ spec['owner_key'] }} = DBT_INTERNAL_DEST.{{ spec['owner_column'] }}
                and {{ tier }}
                and DBT_INTERNAL_DEST.{{ spec['since_column'] }} >= rebuilds.{{ spec['since_key'] }}
        );
    {% endfor %}
    insert into {{ target }} ({{ dest_cols_csv }})
    (
        select {{ dest_cols_csv }}
        from {{ source }}
    )
{%- endmacro %}

{#
    Incremental strategy `append_with_relinks` (int_events_stitched): the
    temporary relation holds the new events and the re-stitched copies of
    the stored anonymous events of the devices in int_identity_relinks.
    Delete those stored rows, then insert everything. The delete looks up
    the relinked devices first (a semi join DuckDB pushes into the scan of
    one column) rather than every event id: new events are never stored.
    (An UPDATE of two columns in place was tried: DuckDB's checkpoint then
    rewrote both columns of nearly every row group, 8 s a day at 50M events.)
#}
{% macro get_incremental_append_with_relinks_sql(arg_dict) -%}
    {{ return(adapter.dispatch('get_incremental_append_with_relinks_sql', 'reengage')(arg_dict)) }}
{%- endmacro %}

{% macro default__get_incremental_append_with_relinks_sql(arg_dict) -%}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set source = arg_dict['temp_relation'] -%}
    {%- set dest_cols_csv = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    delete from {{ target }} as stored
    where
        stored.user_id is null
        and stored.anonymous_id in (select anonymous_id from {{ ref('int_identity_relinks') }})
        and stored.event_id in (select event_id from {{ source }} where user_id is null);

    insert into {{ target }} ({{ dest_cols_csv }})
    (
        select {{ dest_cols_csv }}
        from {{ source }}
    )
{%- endmacro %}
