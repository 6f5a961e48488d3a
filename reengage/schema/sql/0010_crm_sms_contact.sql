-- Migration 10: raw.customers holds the SMS channel's contact and consent (phone, sms_consent,
-- sms_consent_updated_at). The function in migrations.py moves an existing table aside first and
-- copies its rows back: rows loaded before had neither, so the new columns stay null (nobody texted).
create table if not exists raw.customers (
    "customer_id" varchar,
    "email" varchar,
    "first_name" varchar,
    "country" varchar,
    "timezone" varchar,
    "signup_at" timestamptz,
    "plan" varchar,
    "lifetime_value" double,
    "marketing_consent" boolean,
    "consent_updated_at" timestamptz,
    "updated_at" timestamptz,
    "phone" varchar,
    "sms_consent" boolean,
    "sms_consent_updated_at" timestamptz,
    _source_file varchar,
    _source_row bigint,
    _partition_date date,
    _loaded_at timestamptz
);
