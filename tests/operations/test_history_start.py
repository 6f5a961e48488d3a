"""The run-date partitions start on the data's first day (first_day, else the earliest export, any year),
and a run date outside them is refused in one line naming the setting, before anything runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import pytest
from ops_helpers import CUSTOMERS, EMAIL_EVENTS, events_csv, land

from reengage import settings
from reengage.definitions import build_definitions
from reengage.defs.operations.daily_schedule import build_daily_schedule
from reengage.partitions import (
    RunDateOutsideHistory,
    daily_partitions,
    earliest_export_day,
    history_start,
)
from reengage.runs import load_history, run_day

ROOT = Path(__file__).resolve().parents[2]
SUITE_FIRST_DAY = date.fromisoformat(os.environ["REENGAGE_FIRST_DAY"])  # tests/conftest.py


def test_the_first_day_is_the_setting_else_the_earliest_export_of_any_source_else_today(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Guards the start hard-coded at 2024-01-01: history from 2011 could not be loaded at all.
    landing = Path(settings.landing_dir())
    monkeypatch.delenv("REENGAGE_FIRST_DAY")
    assert earliest_export_day(str(landing)) is None
    assert history_start() == datetime.now(UTC).date()
    land(landing, "events", date(2011, 12, 9), events_csv(2, date(2011, 12, 9)))
    land(landing, "email_events", date(2011, 12, 1), EMAIL_EVENTS, ext="jsonl")
    land(landing, "customers", date(2011, 12, 5), CUSTOMERS)
    (landing / "customers" / "customers_2010-02-30.csv").write_text(CUSTOMERS)  # not a day: ignored
    (landing / "customers" / "notes_2001-01-01.csv").write_text("")  # not an export: ignored
    assert history_start() == date(2011, 12, 1)
    monkeypatch.setenv("REENGAGE_FIRST_DAY", "2010-12-01")
    assert history_start() == date(2010, 12, 1)


# Run in a process of its own: the partitions are read when the code location is imported.
LOAD_2011 = """
import json, sys
from datetime import date
from reengage import warehouse
from reengage.partitions import daily_partitions
from reengage.runs import failures, load_history
first = date.fromisoformat(daily_partitions.get_first_partition_key())
result = load_history(first, date(2011, 12, 9), checks=False)
with warehouse.connect(read_only=True) as con:
    days = con.execute("select count(distinct _partition_date) from raw.events").fetchone()[0]
print(json.dumps({"first": first.isoformat(), "success": result.success, "failures": failures(result),
                  "event_days": days}))
"""


def test_a_history_from_2011_loads_with_partitions_from_its_earliest_export(tmp_path: Path) -> None:
    # Guards the first day: a retailer's 2011 order history could not be loaded at all.
    from reengage_dev.demo.world import generate_world

    generate_world(tmp_path, customers=60, days=5, end_date=date(2011, 12, 9), seed=3)
    env = {**os.environ, "REENGAGE_HOME": str(tmp_path), "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'devkit'}"}
    env.pop("REENGAGE_FIRST_DAY")
    done = subprocess.run(
        [sys.executable, "-c", LOAD_2011], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome == {"first": "2011-12-05", "success": True, "failures": [], "event_days": 5}


def test_a_run_date_before_the_first_day_is_refused_in_one_line_naming_the_setting() -> None:
    # Guards the error buried in three retries' stack traces: nothing runs, and the line says what to set.
    instance = dg.DagsterInstance.ephemeral()
    before = date(2023, 12, 31)
    with pytest.raises(RunDateOutsideHistory) as refused:
        run_day(before, instance)
    message = str(refused.value)
    assert message == (
        f"2023-12-31 is before the first day of history, {SUITE_FIRST_DAY}, which the setting first_day "
        f"(REENGAGE_FIRST_DAY) decides: set first_day (reengage.toml, or REENGAGE_FIRST_DAY) to 2023-12-31 "
        "or earlier, then reload the code location; nothing ran"
    )
    with pytest.raises(RunDateOutsideHistory, match="2023-12-30 is before the first day"):
        load_history(date(2023, 12, 30), date(2024, 1, 2), instance)
    assert instance.get_runs() == []


def test_the_schedule_skips_a_day_before_the_first_day_with_the_reason() -> None:
    fired_at = datetime(2023, 12, 31, 6, 0, tzinfo=UTC)
    context = dg.build_schedule_context(
        instance=dg.DagsterInstance.ephemeral(), scheduled_execution_time=fired_at
    )
    skipped = build_daily_schedule("UTC", 6).evaluate_tick(context).skip_message
    assert skipped is not None and skipped.startswith("2023-12-31 is before the first day of history")


def test_every_asset_job_and_schedule_shares_the_one_run_date_partitions() -> None:
    # Guards the UI showing one range for the assets and another for the jobs, schedules or backfills.
    defs = build_definitions()
    graph = defs.resolve_asset_graph()
    partitioned = {graph.get(key).partitions_def for key in graph.get_all_asset_keys()} - {None}
    jobs = {
        name: defs.resolve_job_def(name).partitions_def
        for name in ("daily_reengagement", "reengagement_backfill", "daily_scoring", "model_training")
    }
    assert partitioned == {daily_partitions}
    assert set(jobs.values()) == {daily_partitions}, jobs
    assert daily_partitions.get_first_partition_key() == SUITE_FIRST_DAY.isoformat()
