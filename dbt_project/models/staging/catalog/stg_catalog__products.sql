-- A table, not a view: every context mart joins it, and each read of a view
-- would rank every catalog row ever exported again.
{{ config(materialized='table') }}

with

catalog_rows as (

    select * from {{ source('raw', 'products') }}

),

as_of_rows as (

    -- only rows of products as they stood by the end of the run date
    select *
    from catalog_rows
    where {{ to_utc_timestamp('updated_at') }} < {{ as_of_end() }}

),

ranked as (

    -- a daily snapshot repeats an unchanged product with the same
    -- updated_at: the latest landing day's row wins the tie
    select
        *,
        row_number() over (
            partition by product_id
            order by updated_at desc, _partition_date desc, _loaded_at desc, _source_row desc
        ) as row_rank
    from as_of_rows

),

final as (

    select
        product_id,
        name as product_name,
        nullif(trim(category), '') as category,
        price,
        upper(currency) as currency,
        nullif(trim(image_url), '') as image_url,
        product_url,
        in_stock,
        {{ to_utc_timestamp('updated_at') }} as updated_at,
        _partition_date as exported_on

    from ranked
    where row_rank = 1

)

{{ contract_columns('final') }}
