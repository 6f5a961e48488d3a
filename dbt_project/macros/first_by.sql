{#
    The first non-null `value` of a group in the order of `order_by` (a list
    of expressions), as an aggregate: one pass, no window and no sort of the
    whole input. fct_sessions uses it for entry page, device and channel;
    with descending=true it is the last one (int_identity_links' latest
    event of a link).
#}
{% macro first_by(value, order_by, descending=false) -%}
    {{ return(adapter.dispatch('first_by', 'reengage')(value, order_by, descending)) }}
{%- endmacro %}

{% macro default__first_by(value, order_by, descending) -%}
    {%- set direction = ' desc' if descending else '' -%}
    (array_agg({{ value }} order by {{ order_by | join(direction ~ ', ') }}{{ direction }}) filter (where {{ value }} is not null))[1]
{%- endmacro %}

{% macro duckdb__first_by(value, order_by, descending) -%}
    {{ 'arg_max' if descending else 'arg_min' }}({{ value }}, ({{ order_by | join(', ') }})) filter (where {{ value }} is not null)
{%- endmacro %}

{% macro snowflake__first_by(value, order_by, descending) -%}
    {{ 'max_by' if descending else 'min_by' }}({{ value }}, {{ order_by | first }}) -- ties on the first key are broken arbitrarily
{%- endmacro %}
