{{
    config(
        materialized='incremental',
        unique_key='customer_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
    )
}}
{#
    Every customer's windowed activity as of the run date D, one compact row
    each, for fct_user_dormancy and fct_user_features (windows are calendar
    days ending D, as in those models).

    Incremental: a customer's row can only change when its daily rows change
    (listed in int_session_rebuilds), when one of its active days crosses a
    window edge (recompute_on, stored with the row), or when its time zone
    changes in the CRM. Only those customers are recomputed, from the compact
    per-day rollups, so a daily run costs in proportion to the day's events
    and the number of customers, not to 90 days of events. A customer who
    only crossed a shorter edge keeps its favourite category and preferred
    hour (they read the long window, which did not change). Every other row
    is exactly what a full rebuild would give.
#}
{%- set recent_days = var('recent_window_days') | int -%}
{%- set baseline_days = var('baseline_window_days') | int -%}
{%- set short_days = var('feature_window_days') | int -%}
{%- set long_days = var('long_window_days') | int -%}
{#- the ages (days before D) at which a day enters another window; sorted -#}
{%- set edges = [recent_days, recent_days + baseline_days, short_days, long_days] | unique | sort -%}

with

customers as (

    select * from {{ ref('stg_crm__customers') }}

),

{% if is_incremental() %}

rebuilt as (

    -- customers whose daily rows this run rebuilt
    select customer_id
    from {{ ref('int_session_rebuilds') }}
    where customer_id is not null

),

crossed as (

    -- customers with a counted day that crossed a window edge by D
    select customer_id, recompute_on
    from {{ this }}
    where recompute_on <= {{ as_of_date() }}

),

rezoned as (

    -- customers whose time zone changed (their preferred local hour moves)
    select stored.customer_id
    from {{ this }} as stored
    left join customers
        on stored.customer_id = customers.customer_id
    where stored.timezone != coalesce(customers.timezone, 'UTC')

),

left_long_window as (

    -- crossed customers with a day that left the {{ long_days }}-day window since
    -- recompute_on: the favourite category and preferred hour read that window
    select distinct crossed.customer_id
    from crossed
    inner join {{ ref('fct_user_daily_activity') }} as daily_activity
        on daily_activity.customer_id = crossed.customer_id
    where
        daily_activity.activity_date >= cast({{ dbt.dateadd('day', -long_days, 'crossed.recompute_on') }} as date)
        and daily_activity.activity_date <= cast({{ dbt.dateadd('day', -long_days, as_of_date()) }} as date)

),

fully_in_scope as (

    -- customers recomputed whole
    select customer_id from rebuilt
    union
    select customer_id from rezoned
    union
    select customer_id from left_long_window

),

in_scope as (

    -- ... and the other crossed customers, whose counts change but whose
    -- favourite category and preferred hour (the long window) cannot: those
    -- two are carried over from the stored row rather than re-ranked
    select customer_id from fully_in_scope
    union
    select customer_id from crossed

),

carried_over as (

    select
        stored.customer_id,
        stored.favourite_category,
        stored.preferred_local_hour
    from {{ this }} as stored
    inner join crossed
        on stored.customer_id = crossed.customer_id
    where not exists (
        select 1
        from fully_in_scope
        where fully_in_scope.customer_id = stored.customer_id
    )

),

daily_activity as (

    select daily_activity.*
    from {{ ref('fct_user_daily_activity') }} as daily_activity
    inner join in_scope
        on daily_activity.customer_id = in_scope.customer_id
    where daily_activity.activity_date <= {{ as_of_date() }}

),

sessions as (

    select sessions.*
    from {{ ref('fct_sessions') }} as sessions
    inner join in_scope
        on sessions.customer_id = in_scope.customer_id
    where
        sessions.session_date >= {{ window_start(short_days) }}
        and sessions.session_date <= {{ as_of_date() }}

),

category_days as (

    select category_days.*
    from {{ ref('int_customer_category_days') }} as category_days
    inner join fully_in_scope
        on category_days.customer_id = fully_in_scope.customer_id
    where
        category_days.activity_date >= {{ window_start(long_days) }}
        and category_days.activity_date <= {{ as_of_date() }}

),

quarter_hours as (

    select quarter_hours.*
    from {{ ref('int_customer_quarter_hours') }} as quarter_hours
    inner join fully_in_scope
        on quarter_hours.customer_id = fully_in_scope.customer_id
    where
        quarter_hours.activity_date >= {{ window_start(long_days) }}
        and quarter_hours.activity_date <= {{ as_of_date() }}

),

{% else %}

-- depends_on: {{ ref('int_session_rebuilds') }}
carried_over as (

    select
        cast(null as {{ dbt.type_string() }}) as customer_id,
        cast(null as {{ dbt.type_string() }}) as favourite_category,
        cast(null as {{ dbt.type_int() }}) as preferred_local_hour
    where 1 = 0

),

daily_activity as (

    select *
    from {{ ref('fct_user_daily_activity') }}
    where activity_date <= {{ as_of_date() }}

),

sessions as (

    select *
    from {{ ref('fct_sessions') }}
    where
        customer_id is not null
        and session_date >= {{ window_start(short_days) }}
        and session_date <= {{ as_of_date() }}

),

category_days as (

    select *
    from {{ ref('int_customer_category_days') }}
    where
        activity_date >= {{ window_start(long_days) }}
        and activity_date <= {{ as_of_date() }}

),

quarter_hours as (

    select *
    from {{ ref('int_customer_quarter_hours') }}
    where
        activity_date >= {{ window_start(long_days) }}
        and activity_date <= {{ as_of_date() }}

),

{% endif %}

activity as (

    select
        customer_id,
        max(last_active_action_at) as last_active_at,
        max(last_event_at) as last_seen_at,
        cast(sum(
            case when activity_date >= {{ window_start(recent_days) }} then active_action_count else 0 end
        ) as {{ dbt.type_bigint() }}) as active_actions_7d,
        cast(sum(
            case
                when
                    activity_date >= {{ window_start(recent_days + baseline_days) }}
                    and activity_date < {{ window_start(recent_days) }}
                    then active_action_count
                else 0
            end
        ) as {{ dbt.type_bigint() }}) as active_actions_prior_28d,
        cast(sum(
            case when activity_date >= {{ window_start(short_days) }} then event_count else 0 end
        ) as {{ dbt.type_bigint() }}) as events_28d,
        cast(sum(
            case when activity_date >= {{ window_start(long_days) }} then purchase_count else 0 end
        ) as {{ dbt.type_bigint() }}) as purchases_90d,
        coalesce(sum(case when activity_date >= {{ window_start(long_days) }} then revenue end), 0)
            as revenue_90d,
        -- the first later run date at which one of these days reaches another window
        min(
            case
            {%- for edge in edges %}
                when activity_date > {{ dbt.dateadd('day', -edge, as_of_date()) }}
                    then cast({{ dbt.dateadd('day', edge, 'activity_date') }} as date)
            {%- endfor %}
            end
        ) as recompute_on
    from daily_activity
    group by customer_id

),

session_counts as (

    select
        customer_id,
        count(*) as sessions_28d
    from sessions
    group by customer_id

),

category_totals as (

    select
        customer_id,
        category,
        sum(event_count) as event_count,
        max(last_event_at) as last_event_at
    from category_days
    group by customer_id, category

),

category_ranking as (

    select
        customer_id,
        category,
        row_number() over (
            partition by customer_id
            order by event_count desc, last_event_at desc, category
        ) as category_rank
    from category_totals

),

zones as (

    select
        activity.customer_id,
        coalesce(customers.timezone, 'UTC') as timezone
    from activity
    left join customers
        on activity.customer_id = customers.customer_id

),

zoned_quarter_hours as (

    select
        quarter_hours.customer_id,
        zones.timezone,
        quarter_hours.quarter_hour_start,
        quarter_hours.event_count
    from quarter_hours
    inner join zones
        on quarter_hours.customer_id = zones.customer_id

),

local_hour_of_quarter as (

    -- one time-zone conversion per zone and quarter hour, not per event
    select
        timezone,
        quarter_hour_start,
        cast(
            extract(hour from {{ to_local_timestamp('quarter_hour_start', 'timezone') }})
            as {{ dbt.type_int() }}
        ) as local_hour
    from (select distinct timezone, quarter_hour_start from zoned_quarter_hours) as distinct_quarters

),

hour_ranking as (

    select
        zoned_quarter_hours.customer_id,
        local_hour_of_quarter.local_hour,
        row_number() over (
            partition by zoned_quarter_hours.customer_id
            order by sum(zoned_quarter_hours.event_count) desc, local_hour_of_quarter.local_hour
        ) as hour_rank
    from zoned_quarter_hours
    inner join local_hour_of_quarter
        on
            zoned_quarter_hours.timezone = local_hour_of_quarter.timezone
            and zoned_quarter_hours.quarter_hour_start = local_hour_of_quarter.quarter_hour_start
    group by zoned_quarter_hours.customer_id, local_hour_of_quarter.local_hour

),

final as (

    select
        activity.customer_id,
        zones.timezone,
        activity.last_active_at,
        activity.last_seen_at,
        activity.active_actions_7d,
        activity.active_actions_prior_28d,
        coalesce(session_counts.sessions_28d, 0) as sessions_28d,
        activity.events_28d,
        activity.purchases_90d,
        activity.revenue_90d,
        case
            when carried_over.customer_id is not null then carried_over.favourite_category
            else category_ranking.category
        end as favourite_category,
        case
            when carried_over.customer_id is not null then carried_over.preferred_local_hour
            else hour_ranking.local_hour
        end as preferred_local_hour,
        activity.recompute_on

    from activity
    inner join zones
        on activity.customer_id = zones.customer_id
    left join session_counts
        on activity.customer_id = session_counts.customer_id
    left join category_ranking
        on
            activity.customer_id = category_ranking.customer_id
            and category_ranking.category_rank = 1
    left join hour_ranking
        on
            activity.customer_id = hour_ranking.customer_id
            and hour_ranking.hour_rank = 1
    left join carried_over
        on activity.customer_id = carried_over.customer_id

)

{{ contract_columns('final') }}
