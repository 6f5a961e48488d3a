-- Consecutive events of one session are never more than session_gap_minutes
-- apart, and consecutive sessions of one owner are always more than that apart.
-- A failure means the gap rule in int_events_sessionized is broken: sessions
-- would be merged or split and every session metric would drift.

with

events as (

    select * from {{ ref('int_events_sessionized') }}

),

with_previous as (

    select
        session_owner,
        session_id,
        event_id,
        event_ts,
        lag(event_ts) over (partition by session_owner order by event_ts, event_id) as previous_event_ts,
        lag(session_id) over (partition by session_owner order by event_ts, event_id) as previous_session_id
    from events

)

select *
from with_previous
where
    previous_event_ts is not null
    and (
        (
            session_id = previous_session_id
            and event_ts > {{ dbt.dateadd('minute', var('session_gap_minutes'), 'previous_event_ts') }}
        )
        or (
            session_id != previous_session_id
            and event_ts <= {{ dbt.dateadd('minute', var('session_gap_minutes'), 'previous_event_ts') }}
        )
    )
