"""The exports-landed sensor starts a day's run once per set of files, on real files and a real instance."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest
from ops_helpers import CUSTOMERS, EMAIL_EVENTS, events_csv, land

from reengage import settings
from reengage.defs.operations.exports_sensor import exports_landed_sensor
from reengage.defs.operations.landed_exports import scan_day
from reengage.defs.operations.run_tags import FINGERPRINT_TAG, file_tags

TODAY = datetime.now(UTC).date()


class Ticks:
    """Successive sensor ticks that carry the cursor forward, as the daemon does."""

    def __init__(self) -> None:
        self.instance = dg.DagsterInstance.ephemeral()
        self.cursor: str | None = None

    def tick(self) -> list[dg.RunRequest]:
        context = dg.build_sensor_context(instance=self.instance, cursor=self.cursor)
        result = exports_landed_sensor(context)
        self.cursor = result.cursor
        return list(result.run_requests or [])


@pytest.fixture
def landing() -> Path:
    path = Path(settings.landing_dir())
    path.mkdir(parents=True)
    return path


def land_day(landing: Path, events: int = 3, email_events: bool = True) -> None:
    land(landing, "customers", TODAY, CUSTOMERS)
    land(landing, "events", TODAY, events_csv(events, TODAY))
    if email_events:
        land(landing, "email_events", TODAY, EMAIL_EVENTS, ext="jsonl")


def test_the_same_files_start_one_run_and_a_corrected_redelivery_starts_another(landing: Path) -> None:
    ticks = Ticks()
    land_day(landing)
    assert ticks.tick() == [], "files just seen may still be landing: wait one tick"
    (first,) = ticks.tick()
    assert first.partition_key == TODAY.isoformat()
    assert first.tags[FINGERPRINT_TAG] == scan_day(str(landing), TODAY).fingerprint
    assert first.run_key == f"{TODAY.isoformat()}:{first.tags[FINGERPRINT_TAG]}"
    assert ticks.tick() == [] and ticks.tick() == [], "the same files never start a second run"

    land(landing, "events", TODAY, events_csv(5, TODAY))  # the exporter re-delivers a corrected day
    assert ticks.tick() == [], "the corrected file settles for one tick first"
    (second,) = ticks.tick()
    assert second.partition_key == TODAY.isoformat() and second.run_key != first.run_key
    assert ticks.tick() == []


def test_a_lost_cursor_asks_again_with_the_same_run_key_which_dagster_drops(landing: Path) -> None:
    land_day(landing)
    first, second = Ticks(), Ticks()
    first.tick(), second.tick()
    assert first.tick()[0].run_key == second.tick()[0].run_key


def test_a_file_still_growing_is_not_run_until_it_stops_changing(landing: Path) -> None:
    ticks = Ticks()
    land_day(landing, events=2)
    assert ticks.tick() == []
    land(landing, "events", TODAY, events_csv(4, TODAY))  # still being written
    assert ticks.tick() == []
    (request,) = ticks.tick()
    assert request.tags[FINGERPRINT_TAG] == scan_day(str(landing), TODAY).fingerprint


def test_a_day_without_its_required_exports_waits(landing: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REENGAGE_EVENTS_MISSING_FILE", "required")
    monkeypatch.setenv("REENGAGE_EMAIL_EVENTS_GRACE_MINUTES", "0")  # only the required events hold it
    ticks = Ticks()
    land(landing, "customers", TODAY, CUSTOMERS)
    assert ticks.tick() == [] and ticks.tick() == [], "events are required: no run without them"
    land(landing, "events", TODAY, events_csv(3, TODAY))
    land(landing, "email_events", TODAY, EMAIL_EVENTS, ext="jsonl")
    assert ticks.tick() == []
    assert len(ticks.tick()) == 1


def test_optional_email_events_are_waited_for_only_during_the_grace_period(
    landing: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REENGAGE_EMAIL_EVENTS_MISSING_FILE", "no_activity")  # a sender with quiet days
    land_day(landing, email_events=False)
    waiting = Ticks()
    assert waiting.tick() == [] and waiting.tick() == [], "an hour's grace for the email events by default"
    monkeypatch.setenv("REENGAGE_EMAIL_EVENTS_GRACE_MINUTES", "0")
    (request,) = waiting.tick()
    assert request.partition_key == TODAY.isoformat()


def test_files_a_run_already_consumed_do_not_start_another(landing: Path) -> None:
    land_day(landing)
    ticks = Ticks()
    fingerprint = scan_day(str(landing), TODAY).fingerprint
    # A run started by the schedule or `runs.run_day` on the same files, as the instance records it.
    ticks.instance.add_run(
        dg.DagsterRun(
            job_name="daily_reengagement",
            run_id="scheduled-run",
            tags={"dagster/partition": TODAY.isoformat(), **file_tags(fingerprint, "schedule")},
        )
    )
    assert ticks.tick() == [] and ticks.tick() == []
    land(landing, "customers", TODAY, CUSTOMERS + CUSTOMERS.splitlines()[1].replace("c1", "c2") + "\n")
    ticks.tick()
    assert len(ticks.tick()) == 1, "new files for the day are not covered by the earlier run"


def test_two_exports_for_one_source_and_day_are_reported_and_not_run(landing: Path) -> None:
    land_day(landing)
    land(landing, "events", TODAY, "{}\n", ext="jsonl")  # a second events file for the same day
    ticks = Ticks()
    ticks.tick()
    context = dg.build_sensor_context(instance=ticks.instance, cursor=ticks.cursor)
    result = exports_landed_sensor(context)
    assert not result.run_requests
    assert "more than one export" in result.skip_reason.skip_message


def test_a_dangling_link_named_like_an_export_is_reported_and_not_run(landing: Path) -> None:
    """Guards the regression where the sensor itself raised FileNotFoundError on every tick."""
    land_day(landing)
    events = landing / "events" / f"events_{TODAY}.csv"
    events.unlink()
    events.symlink_to(landing / "gone.csv")
    assert scan_day(str(landing), TODAY).problems == [
        f"events for {TODAY}: events_{TODAY}.csv cannot be read (a dangling link?)"
    ]
    ticks = Ticks()
    assert ticks.tick() == [] and ticks.tick() == []


def test_a_day_may_lack_a_file_of_a_source_that_may_be_quiet_after_the_grace_period(
    landing: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Guards the sensor waiting forever for events on a day the shop was closed (events: no activity).
    monkeypatch.setenv("REENGAGE_EMAIL_EVENTS_MISSING_FILE", "no_activity")
    land(landing, "customers", TODAY, CUSTOMERS)
    waiting = Ticks()
    assert waiting.tick() == [] and waiting.tick() == [], "an hour's grace for the other exports by default"
    monkeypatch.setenv("REENGAGE_EMAIL_EVENTS_GRACE_MINUTES", "0")
    (request,) = waiting.tick()
    assert request.tags[FINGERPRINT_TAG] == scan_day(str(landing), TODAY).fingerprint


def test_a_day_without_any_file_is_left_to_the_schedule(
    landing: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Guards a run started at midnight on nothing, before the day's exports land.
    monkeypatch.setenv("REENGAGE_EMAIL_EVENTS_GRACE_MINUTES", "0")
    ticks = Ticks()
    assert ticks.tick() == [] and ticks.tick() == []
    context = dg.build_sensor_context(instance=ticks.instance, cursor=ticks.cursor)
    assert "no exports yet" in exports_landed_sensor(context).skip_reason.skip_message


def test_by_default_a_day_without_its_email_events_waits_however_long_the_grace(
    landing: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Guards mail going out before yesterday's unsubscribes are loaded: the email events export is
    # required by default, so no grace period starts a day without it.
    land_day(landing, email_events=False)
    monkeypatch.setenv("REENGAGE_EMAIL_EVENTS_GRACE_MINUTES", "0")
    waiting = Ticks()
    assert waiting.tick() == [] and waiting.tick() == [] and waiting.tick() == []
