-- The SQL lives in macros/stage_product_events.sql: the incremental models
-- stage the raw rows of their window with the very same code.
{{ reengage.stage_product_events() }}
