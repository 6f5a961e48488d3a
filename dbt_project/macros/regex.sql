{#-
    Regular expressions where the dialects differ. `pattern` and `replacement` are SQL string
    literals (quoted), so a macro's caller writes the pattern once for every engine.
-#}

{#- Every match of `pattern` in `expr` replaced (DuckDB and PostgreSQL replace only the first
    without the 'g' flag). -#}
{% macro replace_every(expr, pattern, replacement) -%}
    {{ return(adapter.dispatch('replace_every', 'reengage')(expr, pattern, replacement)) }}
{%- endmacro %}

{% macro default__replace_every(expr, pattern, replacement) -%}
    regexp_replace({{ expr }}, {{ pattern }}, {{ replacement }}, 'g')
{%- endmacro %}

{#- Whether `expr` matches `pattern` (anywhere, as ~ and rlike do; anchor it to match the whole). -#}
{% macro matches(expr, pattern) -%}
    {{ return(adapter.dispatch('matches', 'reengage')(expr, pattern)) }}
{%- endmacro %}

{% macro default__matches(expr, pattern) -%}
    ({{ expr }} ~ {{ pattern }})
{%- endmacro %}
