-- Migration 7: raw.quarantine also holds the values of soft columns that ingest set to null in rows
-- it loaded (row_kept = true) beside the rows it refused (false). The function in migrations.py
-- moves an existing table aside first and copies its rows back as refused rows, which they were.
create table if not exists raw.quarantine (
    source varchar,
    file varchar,
    row bigint,
    "column" varchar,
    reason varchar,
    raw_record varchar,
    row_kept boolean not null,
    _partition_date date,
    _loaded_at timestamptz
);
