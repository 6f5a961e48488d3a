"""Re-engagement pipeline: the Dagster code location and the stages' logic."""
