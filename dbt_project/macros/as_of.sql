{#
    The as-of date D: the partition date Dagster runs. As-of models only
    count data strictly before the end of D, i.e. before midnight UTC at the
    start of D + 1.

    D is read when a node runs, never while dbt parses the project: dbt
    compares the --vars of a command (and the environment variables read
    while parsing) with the previous parse, and a new value makes it parse
    the whole project again. So Dagster passes D in the environment variable
    REENGAGE_RUN_DATE, read here at execution only, and one parse serves
    every day. var('run_date') wins when a command or a unit test sets it
    (`--vars '{run_date: 2026-01-10}'` works, at the price of a full parse).
    A backfill of several days in one run passes its first day the same
    way: var('start_date'), else REENGAGE_START_DATE.
#}

{# Stands in for D while dbt parses: parse-time SQL is only read for refs and configs. #}
{% macro parse_time_run_date() -%}
    {{ return('1970-01-01') }}
{%- endmacro %}

{# D as 'YYYY-MM-DD', from var('run_date') or else REENGAGE_RUN_DATE. #}
{% macro run_date() -%}
    {%- if not execute -%}
        {{ return(reengage.parse_time_run_date()) }}
    {%- endif -%}
    {%- set day = reengage.date_setting('run_date', 'REENGAGE_RUN_DATE') -%}
    {%- if day is none -%}
        {{ exceptions.raise_compiler_error(
            "No run date: set the environment variable REENGAGE_RUN_DATE=YYYY-MM-DD (Dagster sets it to "
            ~ "the partition date) or pass --vars '{run_date: YYYY-MM-DD}'"
        ) }}
    {%- endif -%}
    {{ return(day) }}
{%- endmacro %}

{# The first day of a multi-day run as 'YYYY-MM-DD' (var('start_date'), else REENGAGE_START_DATE), or none. #}
{% macro start_date() -%}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(reengage.date_setting('start_date', 'REENGAGE_START_DATE')) }}
{%- endmacro %}

{#
    A date given as the var `var_name` or, when the var is not set, the
    environment variable `env_name`: 'YYYY-MM-DD', or none when neither is
    set (an empty value or 'null' counts as not set). Anything else stops the
    run with the name of where it came from, so a bad value never reaches SQL.
#}
{% macro date_setting(var_name, env_name) -%}
    {%- set from_var = var(var_name, none) -%}
    {%- set origin = "var " ~ var_name if reengage.is_set(from_var) else "environment variable " ~ env_name -%}
    {%- set value = from_var if reengage.is_set(from_var) else env_var(env_name, '') -%}
    {%- if not reengage.is_set(value) -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set text = value | string | trim -%}
    {%- if not modules.re.fullmatch('[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])', text) -%}
        {{ exceptions.raise_compiler_error(origin ~ " is " ~ text ~ ", not a date (YYYY-MM-DD)") }}
    {%- endif -%}
    {{ return(modules.datetime.datetime.strptime(text, '%Y-%m-%d').strftime('%Y-%m-%d')) }}
{%- endmacro %}

{% macro is_set(value) -%}
    {{ return(value is not none and (value | string | trim) not in ('', 'None', 'none', 'null')) }}
{%- endmacro %}

{% macro as_of_date() -%}
    cast('{{ reengage.run_date() }}' as date)
{%- endmacro %}

{# Exclusive upper bound: the first instant after D, as a naive UTC timestamp. #}
{% macro as_of_end() -%}
    cast({{ dbt.dateadd('day', 1, reengage.as_of_date()) }} as {{ dbt.type_timestamp() }})
{%- endmacro %}

{# Inclusive lower bound of the `days` calendar days ending D (days=7 -> D-6). #}
{% macro window_start(days) -%}
    cast({{ dbt.dateadd('day', 1 - days | int, reengage.as_of_date()) }} as date)
{%- endmacro %}

{# Whole calendar days from a timestamp or date to D (0 when on D). #}
{% macro days_before_as_of(column) -%}
    {{ dbt.datediff('cast(' ~ column ~ ' as date)', reengage.as_of_date(), 'day') }}
{%- endmacro %}
