-- Migration 16: raw.sms_events keeps the campaign, variant and run date the pipeline's texts carry
-- in their StatusCallback URL (as email events carry custom args), so a text's responses name its
-- campaign. The function in migrations.py moves the existing table aside and copies its rows back
-- with the new columns null: callbacks exported before carried the send id only.
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
    "campaign_id" varchar,
    "variant" varchar,
    "run_date" date,
    _source_file varchar,
    _source_row bigint,
    _partition_date date,
    _loaded_at timestamptz
);
