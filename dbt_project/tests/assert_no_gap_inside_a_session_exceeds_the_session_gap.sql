-- Consecutive events of one session are never more than session_gap_minutes
-- apart, and consecutive sessions of one owner are always more than that apart.
-- Events are numbered 1, 2, 3, ... within their session (session_event_number).
-- A failure means the gap rule in int_events_sessionized is broken: sessions
-- would be merged or split and every session metric would drift.

-- Incremental runs check the events of their window (plus the day before,
-- so the first event of the window is compared with its predecessor) and the
-- events of the owners they rebuilt from before it, from the rebuild point on
-- (macros/incremental/test_window.sql; a rebuild point is always a session start).

{%- set by_owner_and_time = {
    'owner_column': 'session_owner', 'owner_key': 'session_owner',
    'since_column': 'event_ts', 'since_key': 'rebuild_from',
} %}

with

events as (

    -- the owner as its id and kind, as int_events_sessionized partitions
    -- it (the session_owner text sorts slower)
    select
        *,
        coalesce(customer_id, anonymous_id) as owner_id,
        customer_id is null as is_anonymous_owner
    from {{ reengage.test_window_rows(
        ref('int_events_sessionized'), 'event_date', by_owner_and_time, days_before=1
    ) }}

),

with_previous as (

    select
        session_owner,
        session_start_at,
        session_event_number,
        event_id,
        event_ts,
        event_date,
        lag(event_ts) over (
            partition by owner_id, is_anonymous_owner order by event_ts, event_id
        ) as previous_event_ts,
        lag(session_start_at) over (
            partition by owner_id, is_anonymous_owner order by event_ts, event_id
        ) as previous_session_start_at,
        lag(session_event_number) over (partition by owner_id, is_anonymous_owner order by event_ts, event_id)
            as previous_session_event_number
    from events

)

select *
from with_previous
where
    (
        {{ reengage.test_window_filter('event_date') }}
        or {{ reengage.rebuilt_owner_rows(by_owner_and_time, reengage.test_window_start_day()) }}
    )
    and (
        -- an owner's first event (in an incremental window: its predecessor is
        -- more than a day earlier) opens a session
        (previous_event_ts is null and session_event_number != 1)
        or (
            session_start_at = previous_session_start_at
            and (
                event_ts > {{ dbt.dateadd('minute', var('session_gap_minutes'), 'previous_event_ts') }}
                or session_event_number != previous_session_event_number + 1
            )
        )
        or (
            session_start_at != previous_session_start_at
            and (
                event_ts <= {{ dbt.dateadd('minute', var('session_gap_minutes'), 'previous_event_ts') }}
                or session_event_number != 1
            )
        )
    )
