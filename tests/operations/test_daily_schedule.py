"""The daily schedule fires at a local hour in a configurable zone and runs that moment's UTC date."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import pytest
from ops_helpers import CUSTOMERS, events_csv, land

from reengage import settings
from reengage.definitions import build_definitions
from reengage.defs.operations.daily_schedule import build_daily_schedule
from reengage.defs.operations.landed_exports import scan_day
from reengage.defs.operations.run_tags import FINGERPRINT_TAG, file_tags
from reengage.defs.operations.timezone import ScheduleSettingsError, schedule_hour, schedule_timezone

REPOSITORY = build_definitions().get_repository_def()


def context_at(fired_at: datetime, instance: dg.DagsterInstance) -> dg.ScheduleEvaluationContext:
    return dg.build_schedule_context(
        instance=instance, scheduled_execution_time=fired_at, repository_def=REPOSITORY
    )


@pytest.fixture
def instance():
    # A persistent (temporary) instance: schedule contexts reach the instance through its reference.
    with dg.instance_for_test() as instance:
        yield instance


def evaluate(schedule: dg.ScheduleDefinition, fired_at: datetime, instance: dg.DagsterInstance):
    context = context_at(fired_at, instance)
    (result,) = schedule.evaluate_tick(context).run_requests or [None]
    return result, context


def test_the_defaults_are_six_in_the_morning_utc() -> None:
    schedule = REPOSITORY.get_schedule_def("daily_reengagement_schedule")
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("0 6 * * *", "UTC")
    assert schedule.job_name == "daily_reengagement"
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED


def test_the_zone_and_hour_come_from_the_environment() -> None:
    env = {"REENGAGE_TIMEZONE": "Europe/Berlin", "REENGAGE_SCHEDULE_HOUR": "7"}
    schedule = build_daily_schedule(schedule_timezone(env), schedule_hour(env))
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("0 7 * * *", "Europe/Berlin")


@pytest.mark.parametrize(
    "zone, local, run_date",
    [
        ("Europe/Berlin", datetime(2026, 3, 10, 7, 0), "2026-03-10"),  # 06:00 UTC, same date
        ("America/Los_Angeles", datetime(2026, 3, 10, 20, 0), "2026-03-11"),  # 03:00 UTC the next day
        ("Asia/Tokyo", datetime(2026, 3, 10, 6, 0), "2026-03-09"),  # 21:00 UTC the day before
    ],
)
def test_the_run_date_is_the_utc_date_when_the_schedule_fires(
    zone: str, local: datetime, run_date: str, instance: dg.DagsterInstance
) -> None:
    schedule = build_daily_schedule(zone, local.hour)
    request, _ = evaluate(schedule, local.replace(tzinfo=ZoneInfo(zone)), instance)
    assert request.partition_key == run_date
    assert request.run_key == f"{run_date}:scheduled"


@pytest.mark.parametrize("name", ["Mars/Olympus_Mons", "CEST", "../etc/passwd", "Europe/Berlin "])
def test_an_unknown_zone_name_is_refused_with_the_variable_named(name: str) -> None:
    if name.strip() == "Europe/Berlin":
        assert schedule_timezone({"REENGAGE_TIMEZONE": name}) == "Europe/Berlin"
        return
    with pytest.raises(ScheduleSettingsError, match=r"REENGAGE_TIMEZONE=.* is not an IANA time zone name"):
        schedule_timezone({"REENGAGE_TIMEZONE": name})


@pytest.mark.parametrize("hour", ["24", "-1", "six", "6.5"])
def test_an_hour_outside_the_day_is_refused(hour: str) -> None:
    with pytest.raises(
        ScheduleSettingsError, match=r"REENGAGE_SCHEDULE_HOUR=.* is not a whole hour from 0 to 23"
    ):
        schedule_hour({"REENGAGE_SCHEDULE_HOUR": hour})


def test_the_schedule_skips_a_day_the_sensor_already_ran_on_the_same_files(
    instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REENGAGE_EMAIL_EVENTS_MISSING_FILE", "no_activity")  # no mail event that day
    fired_at = datetime(2026, 3, 10, 6, 0, tzinfo=ZoneInfo("UTC"))
    day = fired_at.date()
    landing = Path(settings.landing_dir())
    land(landing, "customers", day, CUSTOMERS)
    land(landing, "events", day, events_csv(3, day))
    schedule = build_daily_schedule("UTC", 6)
    fingerprint = scan_day(str(landing), day).fingerprint

    request, _ = evaluate(schedule, fired_at, instance)
    assert request.tags[FINGERPRINT_TAG] == fingerprint, "the run records which files it will consume"

    instance.add_run(
        dg.DagsterRun(
            job_name="daily_reengagement",
            run_id="sensor-run",
            tags={"dagster/partition": day.isoformat(), **file_tags(fingerprint, "exports_landed")},
        )
    )
    skipped = schedule.evaluate_tick(context_at(fired_at, instance))
    assert not skipped.run_requests and "already run on these exports" in skipped.skip_message


def test_the_schedule_still_runs_a_day_whose_exports_are_late_so_the_failure_alerts(
    instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REENGAGE_EVENTS_MISSING_FILE", "required")  # a day without events is late
    fired_at = datetime(2026, 3, 10, 6, 0, tzinfo=ZoneInfo("UTC"))
    request, _ = evaluate(build_daily_schedule("UTC", 6), fired_at, instance)
    assert request.partition_key == "2026-03-10" and request.tags[FINGERPRINT_TAG] == "incomplete"


def test_the_schedule_runs_a_closed_day_without_any_file_on_its_empty_set_of_files(
    instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Guards a closed day being started as "incomplete" (to fail) when every source may lack its file.
    monkeypatch.setenv("REENGAGE_CUSTOMERS_MISSING_FILE", "no_change")
    monkeypatch.setenv("REENGAGE_EMAIL_EVENTS_MISSING_FILE", "no_activity")
    fired_at = datetime(2026, 3, 8, 6, 0, tzinfo=ZoneInfo("UTC"))
    request, _ = evaluate(build_daily_schedule("UTC", 6), fired_at, instance)
    assert request.partition_key == "2026-03-08"
    assert request.tags[FINGERPRINT_TAG] == scan_day(settings.landing_dir(), date(2026, 3, 8)).fingerprint
