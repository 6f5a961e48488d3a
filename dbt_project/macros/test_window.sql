{#
    Data tests on the incremental tables look at the rows of the run's
    incremental window only (what the day changed), so that a daily run costs
    in proportion to the new data (a unique test over every event ever stored
    would dominate it). Every row is checked on a full refresh and on the run
    dates that fall on var('whole_table_tests_weekday'), once a week by
    default, so rows rewritten outside the window (a late login
    re-attributing old anonymous events) are checked within a week. A model
    opts its generic tests in with

        config:
          meta:
            incremental_test_window: event_date   # a date column of the model

    and singular tests filter with test_window_filter('<date column>').
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

{# `date_column` in the window (or `days_before` days earlier); always true when tests check whole tables. #}
{% macro test_window_filter(date_column, days_before=0) -%}
    {%- if reengage.tests_check_whole_tables() -%}
        1 = 1
    {%- else -%}
        {%- set start = modules.datetime.datetime.strptime(reengage.incremental_window_start_day(), '%Y-%m-%d')
            - modules.datetime.timedelta(days=days_before | int) -%}
        {{ date_column }} >= cast('{{ start.strftime('%Y-%m-%d') }}' as date)
    {%- endif -%}
{%- endmacro %}

{# dbt's own get_where_subquery (the `where` test config), plus the window above. #}
{% macro default__get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- set window_column = none -%}
    {%- set attached = model.get('attached_node') if model is mapping else none -%}
    {%- if execute and attached and attached in graph.nodes -%}
        {%- set window_column = (graph.nodes[attached].config.meta or {}).get('incremental_test_window') -%}
    {%- endif -%}
    {%- set conditions = [] -%}
    {%- if where -%}{%- do conditions.append('(' ~ where ~ ')') -%}{%- endif -%}
    {%- if window_column and not reengage.tests_check_whole_tables() -%}
        {%- do conditions.append(reengage.test_window_filter(window_column)) -%}
    {%- endif -%}
    {%- if conditions -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ conditions | join(' and ') }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}
