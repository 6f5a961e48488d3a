-- session_id must be md5(session_owner | session_start_at) so that rerunning a
-- day, or rebuilding history, gives every session the same id (delivery and
-- measurement join on it). A failure means the id is no longer deterministic.

select
    session_id,
    session_owner,
    session_start_at
from {{ ref('fct_sessions') }}
where
    {{ reengage.test_window_filter('session_date') }}
    and session_id != {{ dbt.hash(dbt.concat([
        "session_owner", "'|'", "cast(session_start_at as " ~ dbt.type_string() ~ ")"
    ])) }}
