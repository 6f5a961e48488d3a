{#
    Data tests on the incremental tables look at the rows the run's build can
    have written, not at all history, so that a daily run costs in
    proportion to what the day changed (a unique test over every event ever
    stored would dominate it). Those rows are:

    - the rows dated in the run's incremental window (macros/incremental/window.sql);
    - the rows of the owners the run rebuilt from before the window, from
      their rebuild point on (int_session_rebuilds: a late login
      re-attributing a device's old anonymous events to a customer, a session
      that crossed midnight into the window), and the stored anonymous events
      of the devices it re-stitched (int_identity_relinks).

    Every row is checked on a full refresh and on the run dates that fall on
    var('whole_table_tests_weekday'), once a week by default, so what no
    build wrote (a row changed by hand, a bug that left a row behind) is
    found within a week. A model opts its generic tests in with

        config:
          meta:
            incremental_test_window: event_date   # a date column of the model

    and names the owners it rebuilds with meta `rebuild_owner_tails` (the
    models maintained by that strategy have it) or else meta
    `incremental_test_rebuilt_owners`, of the shape {owner_column, owner_key,
    since_column, since_key, rebuilt_by}: owner_column and since_column are
    SQL on the model; owner_key and since_key are columns of the model
    rebuilt_by (int_session_rebuilds unless named), which must be upstream of
    the model: `dbt build` runs a model's tests before the models downstream
    of it, so a test would read a downstream model's previous run. Without
    since_key every row of a listed owner counts.
    Singular tests read test_window_rows() and test_window_filter().
#}

{#
    True when this run's data tests check every row: a full refresh, or a run
    date on the ISO weekday var('whole_table_tests_weekday') (1 Monday .. 7
    Sunday; 0 every run).
#}
{% macro tests_check_whole_tables() -%}
    {%- if flags.FULL_REFRESH -%}
        {{ return(true) }}
    {%- endif -%}
    {%- set weekday = var('whole_table_tests_weekday') | int -%}
    {%- if weekday < 0 or weekday > 7 -%}
        {{ exceptions.raise_compiler_error(
            "var whole_table_tests_weekday must be 0 (every run) or an ISO weekday 1-7, got " ~ weekday
        ) }}
    {%- endif -%}
    {%- set run_day = modules.datetime.datetime.strptime(reengage.run_date(), '%Y-%m-%d') -%}
    {{ return(weekday == 0 or run_day.isoweekday() == weekday) }}
{%- endmacro %}

{# 'YYYY-MM-DD': the first day of the window, or `days_before` days earlier. #}
{% macro test_window_start_day(days_before=0) -%}
    {%- set start = modules.datetime.datetime.strptime(reengage.incremental_window_start_day(), '%Y-%m-%d')
        - modules.datetime.timedelta(days=days_before | int) -%}
    {{ return(start.strftime('%Y-%m-%d')) }}
{%- endmacro %}

{# `date_column` in the window (or `days_before` days earlier); always true when tests check whole tables. #}
{% macro test_window_filter(date_column, days_before=0) -%}
    {%- if reengage.tests_check_whole_tables() -%}
        1 = 1
    {%- else -%}
        {{ date_column }} >= cast('{{ reengage.test_window_start_day(days_before) }}' as date)
    {%- endif -%}
{%- endmacro %}

{#
    SQL condition: the row belongs to an owner this run rebuilt and, when
    `rebuilt` names a rebuild point, lies at or after it and the owner was
    rebuilt from before `before_day` ('YYYY-MM-DD'). `rebuilt` is
    {owner_column, owner_key, since_column, since_key, rebuilt_by} (see the
    top); rebuilt_by is the model listing the owners, int_session_rebuilds
    unless named. False when it lists none (always on a full refresh, when
    int_session_rebuilds is empty). The earliest listed rebuild point bounds
    the scan, so a day that rebuilt nobody from far back reads little more
    than its window.
#}
{% macro rebuilt_owner_rows(rebuilt, before_day) -%}
    {%- set rebuilds = reengage.previous_relation_of(rebuilt.get('rebuilt_by', 'int_session_rebuilds')) -%}
    {%- set since_key = rebuilt.get('since_key') -%}
    {%- set before = "cast('" ~ before_day ~ "' as date)" -%}
    {%- set listed = 'rebuilt.' ~ since_key ~ ' < ' ~ before if since_key else '1 = 1' -%}
    {%- set earliest = none -%}
    {%- if rebuilds is not none -%}
        {%- set first = run_query(
            'select min(' ~ (since_key or rebuilt['owner_key']) ~ ') from ' ~ rebuilds
            ~ ' as rebuilt where ' ~ listed
        ) -%}
        {%- set earliest = first.columns[0].values()[0] if first and first.rows | length > 0 else none -%}
    {%- endif -%}
    {%- if earliest is none -%}
        1 = 0
    {%- else -%}
        {#- the constant bound first, so older row groups are skipped; the IN list
            before the EXISTS, as in the rebuild_owner_tails delete -#}
        {%- if since_key %}
        {%- set earliest_at = earliest.strftime('%Y-%m-%d %H:%M:%S.%f') %}
        {{ rebuilt['since_column'] }} >= cast('{{ earliest_at }}' as {{ dbt.type_timestamp() }}) and
        {%- endif %}
        {{ rebuilt['owner_column'] }} in (
            select rebuilt.{{ rebuilt['owner_key'] }} from {{ rebuilds }} as rebuilt where {{ listed }}
        )
        {%- if since_key %}
        {#- the rebuilds under names no checked table has: an owner column named like their
            key (session_owner) would otherwise resolve to the rebuilds' own column here,
            compare it with itself, and let every rebuilt owner's rows through from the
            earliest rebuild point of any owner -#}
        and exists (
            select 1
            from (
                select rebuilt.{{ rebuilt['owner_key'] }} as rebuilt_owner, rebuilt.{{ since_key }} as rebuilt_since
                from {{ rebuilds }} as rebuilt
                where {{ listed }}
            ) as owner_rebuild
            where
                owner_rebuild.rebuilt_owner = {{ rebuilt['owner_column'] }}
                and {{ rebuilt['since_column'] }} >= owner_rebuild.rebuilt_since
        )
        {%- endif %}
    {%- endif -%}
{%- endmacro %}

{#
    The rows of `relation` a data test checks: all of them when tests check
    whole tables, else those dated from the window on (`date_column`, or
    `days_before` days earlier) and, when `rebuilt` names the owners, the
    rows of the owners rebuilt from before that day, from their rebuild
    point on. Two scans joined by UNION ALL, each on its own columns, so
    DuckDB skips the older row groups of the first (one OR across both would
    read the whole table). `where` (SQL) applies to both.
#}
{% macro test_window_rows(
    relation, date_column, rebuilt=none, days_before=0, where=none, alias='test_rows'
) -%}
    {%- set only = '(' ~ where ~ ') and ' if where else '' -%}
    {%- if reengage.tests_check_whole_tables() -%}
        {%- if where -%}
            (select * from {{ relation }} where {{ where }}) {{ alias }}
        {%- else -%}
            {{ relation }} {{ alias }}
        {%- endif -%}
    {%- else -%}
        {%- set start_day = reengage.test_window_start_day(days_before) -%}
        {%- set start = "cast('" ~ start_day ~ "' as date)" -%}
        (
            select * from {{ relation }} where {{ only }}{{ date_column }} >= {{ start }}
            {%- if rebuilt %}
            union all
            select * from {{ relation }}
            where
                {{ only }}{{ date_column }} < {{ start }}
                and {{ reengage.rebuilt_owner_rows(rebuilt, start_day) }}
            {%- endif %}
        ) {{ alias }}
    {%- endif -%}
{%- endmacro %}

{# dbt's own get_where_subquery (the `where` test config), plus the rows above for opted-in models. #}
{% macro default__get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- set meta = {} -%}
    {%- set attached = model.get('attached_node') if model is mapping else none -%}
    {%- if execute and attached and attached in graph.nodes -%}
        {%- set meta = graph.nodes[attached].config.meta or {} -%}
    {%- endif -%}
    {%- set window_column = meta.get('incremental_test_window') -%}
    {%- if window_column and not reengage.tests_check_whole_tables() -%}
        {%- set rebuilt = meta.get('incremental_test_rebuilt_owners') or meta.get('rebuild_owner_tails') -%}
        {%- set rows = reengage.test_window_rows(
            relation, window_column, rebuilt, where=where, alias="dbt_subquery"
        ) -%}
        {%- do return(rows) -%}
    {%- elif where -%}
        {%- do return('(select * from ' ~ relation ~ ' where ' ~ where ~ ') dbt_subquery') -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}
