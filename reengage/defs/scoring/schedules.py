"""Scoring jobs and schedules: fit the models weekly, apply them every day.

Both jobs run one run-date partition in one process (DuckDB has a single
writer). The weekly `model_training` job trains a churn model candidate on the
latest complete labels, promoted only if it beats the baseline and the current
model (reengage/learning/registry.py), refits the behaviour clusters and fits an uplift candidate for every
campaign that targets by uplift (promoted only when it ranks better than random). The daily jobs
(`daily_scoring` here, and `daily_reengagement`, which runs every asset) apply
the current models; they fit one only on a cold start or a features-contract
change (training.py).
"""

from datetime import timedelta

import dagster as dg

from reengage import settings
from reengage.defs.scoring.assets import (
    behaviour_cluster_model,
    behaviour_clusters,
    churn_model,
    churn_scores,
    preferred_send_hours,
)
from reengage.defs.scoring.uplift import uplift_scores
from reengage.partitions import daily_partitions

model_training_job = dg.define_asset_job(
    name="model_training",
    selection=dg.AssetSelection.assets(churn_model, behaviour_cluster_model, uplift_scores),
    partitions_def=daily_partitions,
    executor_def=dg.in_process_executor,
    config={
        "ops": {
            "churn_model": {"config": {"retrain": True}},
            "behaviour_cluster_model": {"config": {"refit": True}},
            "uplift_scores": {"config": {"retrain": True}},
        }
    },
    description="Train a churn model candidate for the run date (promoted if it is better), refit the "
    "behaviour clusters, and fit an uplift model candidate for every campaign that targets by uplift.",
)

daily_scoring_job = dg.define_asset_job(
    name="daily_scoring",
    selection=dg.AssetSelection.assets(
        churn_model,
        churn_scores,
        behaviour_cluster_model,
        behaviour_clusters,
        preferred_send_hours,
        uplift_scores,
    ),
    partitions_def=daily_partitions,
    executor_def=dg.in_process_executor,
    description="Churn scores and behaviour clusters with the current models (fitted only on a cold start "
    "or a features-contract change) and preferred send hours.",
)

daily_scoring_schedule = dg.build_schedule_from_partitioned_job(
    daily_scoring_job,
    hour_of_day=settings.scoring_hour(),
    minute_of_hour=0,
    description="Scores the day's partition every morning, after the warehouse build.",
)

# Monday 05:00 UTC by default: before the daily scoring run, so the week's scores use the new models.
RETRAIN_CRON = settings.retrain_cron()


@dg.schedule(
    name="weekly_model_training",
    cron_schedule=RETRAIN_CRON,
    job=model_training_job,
    execution_timezone="UTC",
    description="Retrains the churn model and refits the behaviour clusters weekly, on the previous day's "
    "partition (labels complete to then).",
)
def weekly_model_training(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    run_date = (context.scheduled_execution_time - timedelta(days=1)).date()
    return dg.RunRequest(run_key=f"retrain-{run_date.isoformat()}", partition_key=run_date.isoformat())
