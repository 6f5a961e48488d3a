"""Running the pipeline unattended: triggers (schedule, exports sensor), backfills, retries, alerts.

See docs/operations.md for which trigger a deployment turns on and how alerts reach people.
"""
