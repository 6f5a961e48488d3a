{#
    Custom schemas are used as-is (`staging`, `intermediate`, `marts`) instead of
    dbt's default `<target_schema>_<custom_schema>`, so every environment sees the
    names documented in docs/architecture.md. Nodes without a custom schema fall
    back to the target's schema.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
