"""The run-date partitions every daily asset shares."""

import dagster as dg

# end_offset=1 makes today's partition materializable: the daily run for D runs on D.
# Partition keys are UTC dates (Dagster's default zone, stated here on purpose): ingest days,
# dbt's day cuts and the send ledger all count in UTC. REENGAGE_TIMEZONE moves only the hour the
# schedule fires (defs/operations/daily_schedule.py), never what a run date means.
daily_partitions = dg.DailyPartitionsDefinition(start_date="2024-01-01", end_offset=1, timezone="UTC")
