"""Run tags that say which files a daily run consumed, so the triggers never double up."""

from __future__ import annotations

from datetime import date

import dagster as dg

DAILY_JOB = "daily_reengagement"
FINGERPRINT_TAG = "reengage/exports_fingerprint"
TRIGGER_TAG = "reengage/trigger"


def file_tags(fingerprint: str, trigger: str) -> dict[str, str]:
    return {FINGERPRINT_TAG: fingerprint, TRIGGER_TAG: trigger}


def run_exists_for_files(instance: dg.DagsterInstance, day: date, fingerprint: str) -> bool:
    """Whether any daily run for `day` (queued, running or finished) was started on these files."""
    records = instance.get_run_records(
        filters=dg.RunsFilter(
            job_name=DAILY_JOB, tags={"dagster/partition": day.isoformat(), FINGERPRINT_TAG: fingerprint}
        ),
        limit=1,
    )
    return bool(records)
