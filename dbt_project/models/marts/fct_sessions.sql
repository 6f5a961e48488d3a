{{
    config(
        materialized='incremental',
        incremental_strategy='rebuild_owner_tails',
        on_schema_change='fail',
        meta={
            'rebuild_owner_tails': {
                'owner_column': 'session_owner',
                'owner_key': 'session_owner',
                'since_column': 'session_start_at',
                'since_key': 'rebuild_from',
            },
            'day_partition': 'session_date',
        },
    )
}}

{#-
    A full build aggregates every sessionized event, owner by owner in a few
    branches that each fit in DuckDB's memory (macros/incremental/owner_buckets.sql). An
    incremental run aggregates the sessions it recomputed, each from its
    owner's rebuild point (a session start) on; the strategy first deletes
    the owner's stored sessions from that point.
-#}
{%- if is_incremental() %}
{%- set events = ref('int_events_resessionized') %}
{%- else %}
{%- set events = ref('int_events_sessionized') %}
-- depends_on: {{ ref('int_events_resessionized') }}, {{ ref('int_session_rebuilds') }}
{%- endif %}

with

aggregated as (

    {% call(owner_filter) reengage.union_all_owner_buckets('session_aggregates', 'session_owner', split=not is_incremental()) -%}
        select
            session_owner,
            session_start_at,
            max(customer_id) as customer_id,
            max(case when customer_id is null then anonymous_id end) as anonymous_id,
            max(event_ts) as session_end_at,
            count(*) as event_count,
            {{ count_where("is_active_action") }} as active_action_count,
            {{ count_where("event_name = 'page_view'") }} as page_view_count,
            {{ count_where("event_name = 'product_view'") }} as product_view_count,
            {{ count_where("event_name = 'add_to_cart'") }} as add_to_cart_count,
            {{ count_where("event_kind = 'purchase'") }} as purchase_count,
            coalesce(sum({{ reengage.event_revenue('event_kind', 'value') }}), 0) as revenue,
            -- entry page, device and channel come from the session's first event
            -- that has one (a login or search event often carries no page);
            -- session_event_number orders them as (event_ts, event_id) does
            {{ reengage.first_by('page', ['session_event_number']) }} as entry_page,
            {{ reengage.first_by('device', ['session_event_number']) }} as device,
            {{ reengage.first_by('channel', ['session_event_number']) }} as channel
        from {{ events }} as events
        where {{ owner_filter }}
        group by session_owner, session_start_at
    {%- endcall %}

),

final as (

    select
        {{ dbt.hash(dbt.concat([
            "aggregated.session_owner", "'|'", "cast(aggregated.session_start_at as " ~ dbt.type_string() ~ ")"
        ])) }} as session_id,
        aggregated.session_owner,
        aggregated.customer_id,
        aggregated.anonymous_id,
        aggregated.customer_id is null as is_anonymous,
        aggregated.session_start_at,
        aggregated.session_end_at,
        cast(aggregated.session_start_at as date) as session_date,
        {{ dbt.datediff('aggregated.session_start_at', 'aggregated.session_end_at', 'second') }}
            as duration_seconds,
        aggregated.event_count,
        aggregated.active_action_count,
        aggregated.page_view_count,
        aggregated.product_view_count,
        aggregated.add_to_cart_count,
        aggregated.purchase_count,
        aggregated.revenue,
        aggregated.entry_page,
        aggregated.device,
        aggregated.channel,
        aggregated.purchase_count > 0 as converted

    from aggregated

)

{{ contract_columns('final') }}
{{ reengage.in_date_order('session_start_at') }}
