-- session_id must be md5(session_owner | session_start_at) so that rerunning a
-- day, or rebuilding history, gives every session the same id (delivery and
-- measurement join on it). A failure means the id is no longer deterministic.

-- Incremental runs check the sessions their build wrote (macros/incremental/test_window.sql).

select
    session_id,
    session_owner,
    session_start_at
from {{ reengage.test_window_rows(ref('fct_sessions'), 'session_date', {
    'owner_column': 'session_owner', 'owner_key': 'session_owner',
    'since_column': 'session_start_at', 'since_key': 'rebuild_from',
}) }}
where
    session_id != {{ dbt.hash(dbt.concat([
        "session_owner", "'|'", "cast(session_start_at as " ~ dbt.type_string() ~ ")"
    ])) }}
