"""Start a day's run when that day's exports have landed, once per set of files.

A file has finished landing when its size and version are unchanged between two
ticks (the landing contract has no `_SUCCESS` marker, and exporters that write in place give
no other sign). The sources whose `missing_file` rule is required (ingest fails without them)
must be there; a source a day may lack (no activity, no change: by default events) is
waited for for a grace period once the others settled, and then the day starts without it; a
source that is absent (sms_events or products before its first export) is not waited for. A day
without any file is not started here: the daily schedule runs it (a closed day is loaded as empty).

The run key is the day plus the files' fingerprint, so the same files never start a
second run (even if the cursor is lost: Dagster drops a repeated run key), while a
corrected re-delivery (other size or version) starts a new one. A run for the same
files started by the schedule or `runs.run_day` counts too (run tags).

No `from __future__ import annotations` here: Dagster inspects the sensor's signature.
"""

import json
import time
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta

import dagster as dg

from reengage import settings
from reengage.defs.ingest.contracts import expected_sources, required_sources
from reengage.defs.jobs import daily_reengagement
from reengage.defs.operations.landed_exports import DayExports, scan_day
from reengage.defs.operations.run_tags import file_tags, run_exists_for_files
from reengage.partitions import first_partition_day

TRIGGER = "exports_landed"


@dataclass(frozen=True)
class WatchSettings:
    lookback_days: int = 2  # today and the two days before (UTC dates)
    optional_grace_seconds: float = (
        3600.0  # how long to wait for exports a day may lack after the rest settled
    )
    interval_seconds: int = 60

    @classmethod
    def from_env(cls) -> "WatchSettings":
        return cls(
            lookback_days=settings.sensor_lookback_days(),
            optional_grace_seconds=60 * settings.missing_file_grace_minutes(),
            interval_seconds=settings.sensor_interval_seconds(),
        )


@dataclass
class DayState:
    """What the sensor remembers about one day between ticks (kept in the sensor cursor)."""

    seen: str = ""  # fingerprint seen on the previous tick
    since: float = 0.0  # when that fingerprint was first seen (epoch seconds)
    launched: str = ""  # fingerprint of the last run requested


def load_cursor(text: str | None) -> dict[str, DayState]:
    if not text:
        return {}
    return {day: DayState(**state) for day, state in json.loads(text).items()}


def dump_cursor(states: dict[str, DayState]) -> str:
    return json.dumps({day: asdict(state) for day, state in sorted(states.items())}, sort_keys=True)


def watched_days(today: date, lookback_days: int) -> list[date]:
    first = first_partition_day()
    return [d for d in (today - timedelta(days=n) for n in range(lookback_days, -1, -1)) if d >= first]


def evaluate_day(
    exports: DayExports,
    state: DayState,
    now: float,
    grace_seconds: float,
    required: tuple[str, ...] | None = None,
) -> tuple[bool, str]:
    """Whether to request a run for the day now, and why (or why not); updates `state`.

    `required` are the sources the day cannot run without (default: the settings' missing_file rules)."""
    required = required_sources() if required is None else required
    # An absent source (a team without SMS never exported any) is not waited for at all.
    optional = tuple(source for source in expected_sources() if source not in required)
    day = exports.day
    if exports.problems:
        return False, f"{day}: " + "; ".join(exports.problems)
    if not exports.files:
        return False, f"{day}: no exports yet (the daily schedule runs a day that has none)"
    fingerprint = exports.fingerprint
    if fingerprint != state.seen:
        state.seen, state.since = fingerprint, now
        if not exports.missing(required):
            note = f"{day}: files new or changing ({exports.describe()}); waiting a tick for them to settle"
            return False, note
    missing = exports.missing(required)
    if missing:
        return False, f"{day}: waiting for {', '.join(missing)}"
    if state.launched == fingerprint:
        return False, f"{day}: already started on these files"
    optional_missing = exports.missing(optional)
    if optional_missing and now - state.since < grace_seconds:
        left = int(grace_seconds - (now - state.since))
        return False, f"{day}: waiting up to {left}s more for {', '.join(optional_missing)}"
    return True, f"{day}: exports landed ({exports.describe()})"


@dg.sensor(
    name="exports_landed_sensor",
    job=daily_reengagement,
    minimum_interval_seconds=WatchSettings.from_env().interval_seconds,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Starts a day's run once its required exports have landed and stopped changing, and the "
    "exports a day may lack have landed too or a grace period has passed; never twice for the same files.",
)
def exports_landed_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    watch = WatchSettings.from_env()
    landing = settings.landing_dir()
    states = load_cursor(context.cursor)
    now = time.time()
    days = watched_days(datetime.now(UTC).date(), watch.lookback_days)
    requests: list[dg.RunRequest] = []
    notes: list[str] = []
    for day in days:
        state = states.setdefault(day.isoformat(), DayState())
        exports = scan_day(landing, day)
        ready, note = evaluate_day(exports, state, now, watch.optional_grace_seconds)
        if ready and run_exists_for_files(context.instance, day, exports.fingerprint):
            ready, note = False, f"{day}: a run on these files already exists"
            state.launched = exports.fingerprint
        if ready:
            state.launched = exports.fingerprint
            requests.append(
                dg.RunRequest(
                    run_key=f"{day.isoformat()}:{exports.fingerprint}",
                    partition_key=day.isoformat(),
                    tags=file_tags(exports.fingerprint, TRIGGER),
                )
            )
        notes.append(note)
        context.log.info(note)
    keep = {d.isoformat() for d in days}
    cursor = dump_cursor({day: s for day, s in states.items() if day in keep})
    if requests:
        return dg.SensorResult(run_requests=requests, cursor=cursor)
    return dg.SensorResult(skip_reason=dg.SkipReason("; ".join(notes) or "nothing to watch"), cursor=cursor)
