{#
    What one event adds to revenue, from its catalog kind: a purchase its
    value; a reversal (a refund or a cancellation) minus its value's size,
    whatever sign the tracker gave it; nothing for any other event. Sums of it
    are net revenue. The churn features and measurement apply the same rule
    in Python (reengage/event_catalog.py, revenue_sql).
#}
{% macro event_revenue(kind, value) -%}
    case
        when {{ kind }} = 'purchase' then {{ value }}
        when {{ kind }} = 'reversal' then -abs({{ value }})
    end
{%- endmacro %}
