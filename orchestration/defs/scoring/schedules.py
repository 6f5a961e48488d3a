"""Scoring jobs and schedules: retrain the churn model weekly, score every day.

Both jobs run one run-date partition in one process (DuckDB has a single
writer). The daily scoring job uses the current promoted model; the weekly
training job trains a candidate on the latest complete labels and promotes it
only if it beats the baseline and the current model (models/registry.py).
"""

import os
from datetime import timedelta

import dagster as dg

from orchestration.defs.scoring.assets import (
    behaviour_clusters,
    churn_model,
    churn_scores,
    preferred_send_hours,
)
from orchestration.partitions import daily_partitions

churn_training_job = dg.define_asset_job(
    name="churn_training",
    selection=dg.AssetSelection.assets(churn_model),
    partitions_def=daily_partitions,
    executor_def=dg.in_process_executor,
    description="Train a churn model candidate for the run date and promote it if it is better.",
)

daily_scoring_job = dg.define_asset_job(
    name="daily_scoring",
    selection=dg.AssetSelection.assets(churn_scores, behaviour_clusters, preferred_send_hours),
    partitions_def=daily_partitions,
    executor_def=dg.in_process_executor,
    description="Churn scores with the current model, behaviour clusters and preferred send hours.",
)

daily_scoring_schedule = dg.build_schedule_from_partitioned_job(
    daily_scoring_job,
    hour_of_day=int(os.environ.get("REENGAGE_SCORING_HOUR", "7")),
    minute_of_hour=0,
    description="Scores the day's partition every morning, after the warehouse build.",
)

# Monday 05:00 UTC by default: before the daily scoring run, so the week's scores use the new model.
RETRAIN_CRON = os.environ.get("REENGAGE_RETRAIN_CRON", "0 5 * * 1")


@dg.schedule(
    name="weekly_churn_retrain",
    cron_schedule=RETRAIN_CRON,
    job=churn_training_job,
    execution_timezone="UTC",
    description="Retrains the churn model weekly on the previous day's partition (labels complete to then).",
)
def weekly_churn_retrain(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    run_date = (context.scheduled_execution_time - timedelta(days=1)).date()
    return dg.RunRequest(run_key=f"retrain-{run_date.isoformat()}", partition_key=run_date.isoformat())
