"""The demo world's day on a Spark warehouse, in a process of its own, for test_daily_job_spark.py.

The code location parses dbt's manifest when it is first imported, for the warehouse kind of that
moment, and a Spark manifest names some dbt tests differently from a DuckDB one; a test process
that already loaded the DuckDB code location would run the Spark build with the wrong manifest.
So the day runs here, with the environment the caller gives (REENGAGE_HOME, the kind and what
scripts/spark.sh prints), and what the tests need from the run is written as JSON:

    python tests/spark/run_daily_job.py first|again RUN_DATE CUSTOMERS OUT.json

`first` writes the world's history, loads it and runs the day; `again` runs the same day once
more. Dagster's instance lives in <home>/dagster, so both see the same run history.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path

import dagster as dg

from reengage import settings
from reengage.runs import failures, run_day
from reengage_dev.sink import serving_local_sink
from reengage_dev.twilio_sink import serving_local_twilio_sink
from tests.daily_job_checks import check_summary, demo_day_on


def summary(result: dg.ExecuteInProcessResult) -> dict:
    return {"success": result.success, "failures": failures(result), "checks": check_summary(result)}


def main(mode: str, run_date: date, customers: int, out: Path) -> int:
    home = settings.home()
    (home / "dagster").mkdir(exist_ok=True)
    instance = dg.DagsterInstance.local_temp(str(home / "dagster"))
    if mode == "first":
        with demo_day_on(home, lambda patch: None, customers, run_date, instance) as (_, result):
            out.write_text(json.dumps(summary(result)))
    else:
        with serving_local_sink(home / "sink.sqlite"), serving_local_twilio_sink(home / "twilio_sink.sqlite"):
            result = run_day(run_date, instance, allow_past_dates=True)
        out.write_text(json.dumps(summary(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], date.fromisoformat(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4])))
