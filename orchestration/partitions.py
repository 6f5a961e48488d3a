"""The run-date partitions every daily asset shares."""

import dagster as dg

# end_offset=1 makes today's partition materializable: the daily run for D runs on D.
daily_partitions = dg.DailyPartitionsDefinition(start_date="2024-01-01", end_offset=1)
