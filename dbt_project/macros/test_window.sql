{#
    Data tests on the event-level and session-level tables look at the
    incremental window only, except on a full refresh, so that a daily run
    costs in proportion to the new data (a unique test over every event ever
    stored would dominate it). A model opts its generic tests in with

        config:
          meta:
            incremental_test_window: event_date   # a date column of the model

    and singular tests filter with test_window_filter('<date column>').
    Rows rewritten outside the window (a late login re-attributing old
    anonymous events) are checked by the next full refresh.
#}

{# `date_column` in the window (or `days_before` days earlier); always true on a full refresh. #}
{% macro test_window_filter(date_column, days_before=0) -%}
    {%- if flags.FULL_REFRESH -%}
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
    {%- if window_column and not flags.FULL_REFRESH -%}
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
