-- A CRM row refused at ingest with neither a readable customer_id nor a
-- readable address names nobody, so nobody can be held back for it
-- (int_customer_consent): had it withdrawn someone's consent, that person
-- could still be mailed. A warning rather than a stop, since the rest of the
-- CRM is sound: find the row in raw.quarantine by its file and row, and have
-- the export fixed.
{{ config(severity='warn') }}

select
    refused_row_id,
    source_file,
    source_row,
    refusal_reason
from {{ ref('stg_crm__refused_customers') }}
where
    customer_id is null
    and email is null
