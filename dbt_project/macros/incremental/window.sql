{#
    Incremental runs (int_identity_links, int_events_stitched,
    int_session_rebuilds, int_events_sessionized, fct_sessions,
    fct_user_daily_activity).

    A daily run for D re-examines the events of its *window*: every event
    dated (UTC) from `lookback_days` days before the first run date on, and
    every event loaded in a landing partition from that day on (so an event
    that arrives late, however late, is picked up by the run of the day it
    lands). The first run date is the start date when a multi-day range
    is built in one run (a backfill; macros/as_of.sql), else the run date itself.

    Everything an event in the window can change is then recomputed exactly,
    not approximately: a late login re-stitches the device's earlier
    anonymous events whatever their age, and sessions are rebuilt per owner
    from the start of the first session the change can touch (a session that
    crossed midnight into the window included). See int_session_rebuilds.
#}

{# First run date of this run: the start date when set (a range, macros/as_of.sql), else D. #}
{% macro first_run_date() -%}
    {%- set start = reengage.start_date() -%}
    {%- set run_date = reengage.run_date() -%}
    {%- if start is none -%}
        {{ return(run_date) }}
    {%- endif -%}
    {%- if start > run_date -%}
        {{ exceptions.raise_compiler_error("the start date (" ~ start ~ ") is after the run date (" ~ run_date ~ ")") }}
    {%- endif -%}
    {{ return(start) }}
{%- endmacro %}

{# The first day of the window, 'YYYY-MM-DD' (a Jinja string, so it can be a literal the scan can prune on). #}
{% macro incremental_window_start_day() -%}
    {%- set first = modules.datetime.datetime.strptime(reengage.first_run_date(), '%Y-%m-%d') -%}
    {%- set lookback = var('lookback_days') | int -%}
    {%- if lookback < 0 -%}
        {{ exceptions.raise_compiler_error("var lookback_days must be 0 or more, got " ~ lookback) }}
    {%- endif -%}
    {{ return((first - modules.datetime.timedelta(days=lookback)).strftime('%Y-%m-%d')) }}
{%- endmacro %}

{# The first day of the window as a SQL date. #}
{% macro incremental_window_start() -%}
    cast('{{ reengage.incremental_window_start_day() }}' as date)
{%- endmacro %}

{# A UTC instant at midnight starting `day` ('YYYY-MM-DD'), typed like the raw timestamptz columns. #}
{% macro utc_midnight_tz(day) -%}
    {{ return(adapter.dispatch('utc_midnight_tz', 'reengage')(day)) }}
{%- endmacro %}

{% macro default__utc_midnight_tz(day) -%}
    cast('{{ day }} 00:00:00+00:00' as timestamp with time zone)
{%- endmacro %}

{#
    Raw event rows an incremental run re-examines: dated in the window, or
    loaded in a partition of the window; never after the end of D (the
    as-of cut of staging).

    raw_events_of_window() selects them as two scans, each on one column:
    DuckDB skips row groups by min/max only for a condition on one column,
    and one OR across two columns made every run read every raw event (the
    tables are stored in load order, so each branch reads only the newest
    row groups).
#}
{% macro raw_events_of_window() -%}
    {%- set start_day = reengage.incremental_window_start_day() -%}
    {%- set end_ts = reengage.utc_midnight_tz(reengage.day_after_run_date()) -%}
    (
        select * from {{ source('raw', 'events') }}
        where _partition_date >= cast('{{ start_day }}' as date) and event_ts < {{ end_ts }}
        union all
        select * from {{ source('raw', 'events') }}
        where
            event_ts >= {{ reengage.utc_midnight_tz(start_day) }} and event_ts < {{ end_ts }}
            and (_partition_date < cast('{{ start_day }}' as date) or _partition_date is null)
    )
{%- endmacro %}

{# 'YYYY-MM-DD' of the day after the run date (the exclusive end of the as-of cut). #}
{% macro day_after_run_date() -%}
    {{ return((modules.datetime.datetime.strptime(reengage.run_date(), '%Y-%m-%d')
        + modules.datetime.timedelta(days=1)).strftime('%Y-%m-%d')) }}
{%- endmacro %}

{#
    The same window on a relation of staged events (event_date,
    _partition_date), as two one-column scans like raw_events_of_window().
#}
{% macro staged_events_of_window(relation) -%}
    (
        select * from {{ relation }}
        where _partition_date >= {{ reengage.incremental_window_start() }}
        union all
        select * from {{ relation }}
        where
            event_date >= {{ reengage.incremental_window_start() }}
            and (_partition_date < {{ reengage.incremental_window_start() }} or _partition_date is null)
    )
{%- endmacro %}

{#
    The relation another model was built into by an earlier run, or none.
    int_session_rebuilds compares the new stitched events with the sessions
    of the previous run; it cannot ref() int_events_sessionized (that model
    depends on it), so it looks the relation up by the node's name.
#}
{% macro previous_relation_of(model_name) -%}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set node = graph.nodes.get('model.' ~ project_name ~ '.' ~ model_name) -%}
    {%- if node is none -%}
        {{ exceptions.raise_compiler_error("no model named " ~ model_name) }}
    {%- endif -%}
    {{ return(adapter.get_relation(database=node.database, schema=node.schema, identifier=node.alias)) }}
{%- endmacro %}

{#
    True when this run extends the session models incrementally: the
    sessionized events of an earlier run exist and no full refresh was asked
    for. int_session_rebuilds and the three session models agree on it.
#}
{% macro sessions_are_incremental() -%}
    {%- if not execute or flags.FULL_REFRESH -%}
        {{ return(false) }}
    {%- endif -%}
    {{ return(reengage.previous_relation_of('int_events_sessionized') is not none) }}
{%- endmacro %}

{#
    'YYYY-MM-DD': the day before the window starts. Owners first touched in
    the window are rebuilt from at least here (a session open across the
    window's first midnight started at most a session gap earlier).
#}
{% macro rebuild_tail_floor() -%}
    {%- set start = modules.datetime.datetime.strptime(reengage.incremental_window_start_day(), '%Y-%m-%d') -%}
    {{ return((start - modules.datetime.timedelta(days=1)).strftime('%Y-%m-%d')) }}
{%- endmacro %}

{#
    The earliest rebuild point of this run, as a SQL timestamp literal (or
    none when nothing is rebuilt), among the owners of `tier`: 'recent'
    (rebuilt from rebuild_tail_floor() on) or 'older' (from before it), and
    of those only the ones `owners` selects (an SQL condition on
    int_session_rebuilds, aliased `rebuilds`).
    Added as a constant bound next to the join on int_session_rebuilds, it
    lets DuckDB skip the row groups of int_events_stitched that are older
    (that table is stored in load order).
#}
{% macro earliest_rebuild_literal(tier, owners='1 = 1') -%}
    {#- a unit test's rebuilds are fixture rows, not a table to query -#}
    {%- if not execute or model.get('resource_type') == 'unit_test' -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set query -%}
        select min(rebuild_from)
        from {{ ref('int_session_rebuilds') }} as rebuilds
        where {{ reengage.rebuild_tier_condition('rebuilds.rebuild_from', tier) }} and ({{ owners }})
    {%- endset -%}
    {{ return(reengage.timestamp_literal_of_query(query)) }}
{%- endmacro %}

{#
    SQL condition: the rebuild point `column` belongs to `tier`, 'recent'
    (from rebuild_tail_floor() on: owners first touched in the window) or
    'older' (a late event or a re-attributed device from further back).
#}
{% macro rebuild_tier_condition(column, tier) -%}
    {%- set floor = "cast('" ~ reengage.rebuild_tail_floor() ~ "' as " ~ dbt.type_timestamp() ~ ")" -%}
    {{ column }} {{ '>=' if tier == 'recent' else '<' }} {{ floor }}
{%- endmacro %}

{#
    The earliest event time (naive UTC) among the raw rows of this run's
    window, as a SQL timestamp literal, or none when the window is empty.
    int_events_stitched bounds its look-up of already stored copies with it.
#}
{% macro earliest_raw_window_event_literal() -%}
    {%- if not execute or model.get('resource_type') == 'unit_test' -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set query -%}
        select min({{ reengage.to_utc_timestamp('event_ts') }})
        from {{ reengage.raw_events_of_window() }} as window_rows
    {%- endset -%}
    {{ return(reengage.timestamp_literal_of_query(query)) }}
{%- endmacro %}

{# The timestamp a one-value query returns, as a SQL timestamp literal, or none when it is null. #}
{% macro timestamp_literal_of_query(query) -%}
    {%- set result = run_query(query) -%}
    {%- set value = result.columns[0].values()[0] if result and result.rows | length > 0 else none -%}
    {%- if value is none -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return("cast('" ~ value.strftime('%Y-%m-%d %H:%M:%S.%f') ~ "' as " ~ dbt.type_timestamp() ~ ")") }}
{%- endmacro %}
