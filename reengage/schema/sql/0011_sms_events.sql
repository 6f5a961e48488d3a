-- Migration 11: raw.sms_events, the Twilio status callbacks and inbound replies (STOP) as exported,
-- beside raw.email_events. Created empty in every warehouse, so dbt's SMS staging and the SMS
-- suppressions read an empty table for a team that never exports SMS events.
create table if not exists raw.sms_events (
    "EventId" varchar,
    "Timestamp" timestamptz,
    "MessageSid" varchar,
    "To" varchar,
    "From" varchar,
    "MessageStatus" varchar,
    "ErrorCode" varchar,
    "OptOutType" varchar,
    "Body" varchar,
    "send_id" varchar,
    _source_file varchar,
    _source_row bigint,
    _partition_date date,
    _loaded_at timestamptz
);
