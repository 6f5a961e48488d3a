{#
    The bucket ntile(buckets) gives the row at 1-based `position` of
    `row_count` ordered rows, as SQL and PostgreSQL define it: buckets differ
    in size by at most one row, the larger ones first. fct_user_features
    uses it to score ties from counts per distinct value instead of sorting
    every customer (the row of a tie group that comes first decides).
    Integer division written as floor(a / b): DuckDB's `/` divides exactly,
    PostgreSQL's truncates integers; both agree on non-negative numbers.
#}
{% macro ntile_at(position, row_count, buckets) -%}
    {%- set n = '(' ~ row_count ~ ')' -%}
    {%- set k = 'least(' ~ buckets ~ ', ' ~ n ~ ')' -%}
    {%- set size = 'floor(' ~ n ~ ' / ' ~ k ~ ')' -%}
    {%- set large = '(' ~ n ~ ' - ' ~ k ~ ' * ' ~ size ~ ')' -%}
    {%- set index = '((' ~ position ~ ') - 1)' -%}
    cast(
        case
            when {{ index }} < {{ large }} * ({{ size }} + 1)
                then 1 + floor({{ index }} / ({{ size }} + 1))
            else 1 + {{ large }} + floor(({{ index }} - {{ large }} * ({{ size }} + 1)) / {{ size }})
        end
        as {{ dbt.type_int() }}
    )
{%- endmacro %}
