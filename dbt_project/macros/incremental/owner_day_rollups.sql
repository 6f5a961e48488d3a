{#
    Shared by the per-owner-day tables (fct_user_daily_activity,
    int_customer_category_days, int_customer_quarter_hours by customer_id;
    int_visitor_funnel_days by session_owner): incremental with the
    rebuild_owner_tails strategy (macros/incremental/strategies.sql), each owner's days
    deleted from its rebuild date on and recomputed.
#}
{% macro owner_day_rollup_config(owner_column) -%}
    {{ config(
        materialized='incremental',
        incremental_strategy='rebuild_owner_tails',
        on_schema_change='fail',
        meta={
            'rebuild_owner_tails': {
                'owner_column': owner_column,
                'owner_key': owner_column,
                'since_column': 'activity_date',
                'since_key': 'rebuild_from_date',
            },
            'day_partition': 'activity_date',
        },
    ) }}
{%- endmacro %}

{#
    A full build stores the table in `column` order, so a daily run's
    rebuild_owner_tails deletes skip the older row groups; daily runs append.
#}
{% macro in_date_order(column) -%}
    {%- if not is_incremental() %}
order by {{ column }}
    {%- endif %}
{%- endmacro %}
