{#
    The first non-null `value` of a group in the order of `order_by` (a list
    of expressions), as an aggregate: one pass, no window and no sort of the
    whole input. fct_sessions uses it for entry page, device and channel.
#}
{% macro first_by(value, order_by) -%}
    {{ return(adapter.dispatch('first_by', 'reengage')(value, order_by)) }}
{%- endmacro %}

{% macro default__first_by(value, order_by) -%}
    (array_agg({{ value }} order by {{ order_by | join(', ') }}) filter (where {{ value }} is not null))[1]
{%- endmacro %}

{% macro duckdb__first_by(value, order_by) -%}
    arg_min({{ value }}, ({{ order_by | join(', ') }})) filter (where {{ value }} is not null)
{%- endmacro %}

{% macro snowflake__first_by(value, order_by) -%}
    min_by({{ value }}, {{ order_by | first }}) -- ties on the first key are broken arbitrarily
{%- endmacro %}
