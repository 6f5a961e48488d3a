-- As-of models only see data up to the end of the run date (var run_date). A
-- failure means a later event, snapshot, email event or response leaked into
-- a run, so a backfill of an old day would not reproduce what that day's run
-- decided.

select 'event' as kind, event_id as id, event_ts as at
from {{ ref('int_events_stitched') }}
where event_ts >= {{ as_of_end() }}

union all

select 'customer snapshot' as kind, customer_id as id, updated_at as at
from {{ ref('stg_crm__customers') }}
where updated_at >= {{ as_of_end() }}

union all

select 'email event' as kind, email_event_id as id, event_at as at
from {{ ref('stg_sendgrid__email_events') }}
where event_at >= {{ as_of_end() }}

union all

select 'last active action' as kind, customer_id as id, last_active_at as at
from {{ ref('fct_user_dormancy') }}
where last_active_at >= {{ as_of_end() }}

union all

select 'response' as kind, response_id as id, responded_at as at
from {{ ref('fct_user_responses') }}
where responded_at >= {{ as_of_end() }}
