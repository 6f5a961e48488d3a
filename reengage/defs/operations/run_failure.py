"""Tell someone when a run of this code location fails: which job, run date, steps and errors.

No `from __future__ import annotations` here: Dagster inspects the sensor's signature.
"""

import dagster as dg

from reengage import settings
from reengage.defs.operations.notify import send_alert

URL_VAR = settings.DAGSTER_URL  # e.g. https://dagster.example.com, to link the run in the alert


def failure_text(context: dg.RunFailureSensorContext) -> str:
    run = context.dagster_run
    day = run.tags.get("dagster/partition") or _range(run.tags) or "no partition"
    lines = [f":rotating_light: Run failed: {run.job_name} for {day} (run {run.run_id[:8]})"]
    for event in context.get_step_failure_events():
        error = event.step_failure_data.error
        user = event.step_failure_data.user_failure_data
        reason = (user.description if user and user.description else None) or (error.message if error else "")
        first = (reason or "failed").strip().splitlines()[0][:400]
        lines.append(f"- {event.step_key}: {first}")
    if len(lines) == 1:
        lines.append(f"- {context.failure_event.message or 'the run failed before any step ran'}")
    base = settings.dagster_url()
    if base:
        lines.append(f"{base}/runs/{run.run_id}")
    return "\n".join(lines)


def _range(tags) -> str | None:
    start = tags.get("dagster/asset_partition_range_start")
    end = tags.get("dagster/asset_partition_range_end")
    return f"{start}..{end}" if start and end else None


@dg.run_failure_sensor(
    name="run_failure_alert",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Posts every failed run of this code location (daily job, backfills, scoring) to the log "
    "and, when REENGAGE_ALERT_WEBHOOK_URL is set, to a Slack-compatible webhook.",
)
def run_failure_alert(context: dg.RunFailureSensorContext) -> None:
    send_alert(failure_text(context), context.log)
