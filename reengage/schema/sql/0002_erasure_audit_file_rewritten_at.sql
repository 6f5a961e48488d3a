-- Migration 2: when the DuckDB warehouse file was rewritten without an erasure's deleted rows.
-- Audit rows made before the column existed stay null: "not rewritten yet", which is true, so
-- the next erasure run rewrites the file and stamps them.
alter table privacy.erasure_audit add column if not exists file_rewritten_at timestamptz;
