-- Migration 12: raw.products, the product catalog as exported (a daily snapshot or the changed
-- products), beside the other raw tables. Created empty in every warehouse, so dbt's catalog
-- staging and the context marts read an empty table for a team that never exports a catalog.
create table if not exists raw.products (
    product_id varchar,
    name varchar,
    category varchar,
    price double precision,
    currency varchar,
    image_url varchar,
    product_url varchar,
    in_stock boolean,
    updated_at timestamptz,
    _source_file varchar,
    _source_row bigint,
    _partition_date date,
    _loaded_at timestamptz
);
