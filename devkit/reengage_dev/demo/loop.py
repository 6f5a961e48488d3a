"""The demo: a history, then day after day of the real daily job on a world that answers its mail.

Day by day: the world writes day D's exports (with the answers to the mail
of the days before), the real daily job runs for D exactly as the schedule
would start it, and the world reads what the mail provider (the local sink,
started here and named to delivery by REENGAGE_LOCAL_SINK_URL) accepted for
D and draws each recipient's reactions into the exports of D + 1 and later. Texts go the same
way: a local Twilio sink runs beside the mail sink (named to SMS delivery by
REENGAGE_TWILIO_LOCAL_SINK_URL) and the world answers what it accepted for D with status
callbacks and STOP replies in the sms_events exports of D + 1 and later.
So each day's exports come from the days before, and the attribution windows
of the first days mature while the demo runs.

The clock: the pipeline reads the wall clock (a message is never scheduled in
the past, a past run date sends nothing, the provider accepts ``send_at`` at
most 72 hours ahead). The demo therefore runs each day's job with the
process clock set to 00:05 UTC on that day. The clock runs on from there (a
frozen one would leave Dagster waiting for ever before a retry): the seconds a
job takes can move a send that is due at once by a minute, nothing more.
Dagster's and dbt's output goes to a log file; the console gets one line per day.
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg

from reengage import settings
from reengage.local_instance import local_dagster_home
from reengage_dev.demo.run_history import run_history_without_fsync
from reengage_dev.demo.spec import WorldSpecError, load_spec
from reengage_dev.demo.world import DayAnswers, World
from reengage_dev.sink.local import serving_local_sink, store_path
from reengage_dev.sink.store import SinkStore
from reengage_dev.twilio_sink.local import serving_local_twilio_sink
from reengage_dev.twilio_sink.local import store_path as twilio_store_path
from reengage_dev.twilio_sink.store import TwilioSinkStore

RUN_TIME = timedelta(minutes=5)  # each simulated day's job runs at 00:05 UTC of its run date
DEMO_FILES = (
    "landing",
    "truth",
    "reports",
    "warehouse.duckdb",
    "warehouse.duckdb.wal",
    "send_ledger.sqlite",
    "sink.sqlite",
    "twilio_sink.sqlite",
    "model_registry",
    "data_docs",
    "demo.log",
)


@dataclass(frozen=True)
class DemoConfig:
    customers: int = 20_000
    history_days: int = 60
    sending_days: int = 14
    seed: int = 7
    world: Path | None = None  # a world specification; None: the default
    last_day: date | None = None  # the last sending day; None: today (UTC)
    history_checks: bool = True  # run the raw tables' gates on every history day


@dataclass
class DemoRun:
    """What happened, for the summary and for tests."""

    world: World
    first_day: date
    last_day: date
    log_path: Path
    phases: dict[str, float] = field(default_factory=dict)
    job_seconds: list[float] = field(default_factory=list)
    answers: list[DayAnswers] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    churn_note: str = ""


def reset_home(home: Path) -> None:
    """Each demo starts from an empty warehouse, ledger, sink and world; Dagster's history is kept."""
    for name in DEMO_FILES:
        target = home / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    for stale in home.glob("*.sqlite-*"):
        stale.unlink()


@contextmanager
def output_to(log: Path) -> Iterator[None]:
    """Send everything printed or logged meanwhile to `log` (appending): this process's and its children's.

    Both the file descriptors (dbt runs as a child process) and Python's sys.stdout and
    sys.stderr (which a host such as pytest may have pointed elsewhere) are redirected.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    saved_fds, saved_streams = (os.dup(1), os.dup(2)), (sys.stdout, sys.stderr)
    try:
        with open(log, "ab") as raw, open(log, "a", encoding="utf-8", buffering=1) as text:
            os.dup2(raw.fileno(), 1)
            os.dup2(raw.fileno(), 2)
            sys.stdout = sys.stderr = text
            try:
                yield
            finally:
                text.flush()
                sys.stdout, sys.stderr = saved_streams
                os.dup2(saved_fds[0], 1)
                os.dup2(saved_fds[1], 2)
    finally:
        os.close(saved_fds[0])
        os.close(saved_fds[1])


@contextmanager
def clock_at(day: date) -> Iterator[None]:
    """The process clock (time.time, datetime.now, in every thread) at 00:05 UTC on `day`, running on.

    It runs from there rather than standing still: Dagster waits for a retried step's deadline and
    stamps its event log from this clock, so a frozen clock left a failing day waiting for ever.
    """
    import time_machine

    with time_machine.travel(datetime(day.year, day.month, day.day, tzinfo=UTC) + RUN_TIME, tick=True):
        yield


def _churn_note(result: dg.ExecuteInProcessResult) -> str:
    """Why the churn model has no version, in the pipeline's own words ("" when one is promoted)."""
    from reengage.learning import registry

    if registry.current_version(settings.model_dir()):
        return ""
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        if materialization.asset_key == dg.AssetKey(["churn_model"]):
            reason = materialization.metadata.get("reason")
            if reason is not None:
                return f"churn model not trained: {reason.value}"
    return "churn model not trained"


# Benchmarks steer a world day by day: `before_day(day, world)` runs before each sending day's
# job (to change a campaign file, say), and `run_job(day, instance)` replaces the daily job.
BeforeDay = Callable[[date, World], None]
RunJob = Callable[[date, dg.DagsterInstance], dg.ExecuteInProcessResult]


def simulate(
    config: DemoConfig,
    say: Callable[[str], None] = print,
    before_day: BeforeDay | None = None,
    run_job: RunJob | None = None,
    stop_after: int | None = None,
) -> DemoRun:
    """Write the history, load it, then run the sending days; one line per phase and day through `say`.

    `stop_after` stops after that many sending days; `resume` runs the rest.
    """
    home = settings.home()
    home.mkdir(parents=True, exist_ok=True)
    last_day = config.last_day or datetime.now(UTC).date()
    total_days = config.history_days + config.sending_days
    spec = load_spec(config.world)
    started = time.perf_counter()
    world = World(
        home,
        customers=config.customers,
        days=total_days,
        end_date=last_day,
        seed=config.seed,
        replace=True,
        spec=spec,
        sending_days=config.sending_days,
    )
    for k in range(world.first_sending_day):
        world.write_day(k)
    world.write_truth()
    first_day = world.day(world.first_sending_day)
    run = DemoRun(world=world, first_day=first_day, last_day=last_day, log_path=home / "demo.log")
    run.phases["world: history"] = time.perf_counter() - started
    say(
        f"World: {config.customers:,} customers, {config.history_days} days of history to "
        f"{first_day - timedelta(days=1)}, then {config.sending_days} sending days to {last_day} "
        f"({run.phases['world: history']:.1f} s); specification {spec.source}"
    )

    with _instance_and_sink(home) as (instance, sinks):
        if _load_history(config, run, instance, say):
            _run_days(config, run, instance, sinks, say, before_day, run_job, stop_after)
    return run


def resume(
    config: DemoConfig,
    run: DemoRun,
    say: Callable[[str], None] = print,
    before_day: BeforeDay | None = None,
    run_job: RunJob | None = None,
) -> DemoRun:
    """Run the sending days a stopped `run` (simulate's `stop_after`) has not run yet.

    The home is the settings' home, holding what the stopped run left (a copy of it serves: the
    world writes into it from here on). Benchmarks share a run's first days across variants so.
    """
    home = settings.home()
    run.world.move_to(home)
    run.log_path = home / "demo.log"
    with _instance_and_sink(home) as (instance, sinks):
        _run_days(config, run, instance, sinks, say, before_day, run_job)
    return run


@dataclass(frozen=True)
class Sinks:
    """The stores of the local providers the demo's daily jobs deliver to: mail and texts."""

    mail: SinkStore
    texts: TwilioSinkStore


@contextmanager
def _instance_and_sink(home: Path) -> Iterator[tuple[dg.DagsterInstance, Sinks]]:
    """The Dagster instance the jobs run in (DAGSTER_HOME's, else a temporary one) and the local
    SendGrid and Twilio sinks, each named in its setting's environment variable meanwhile."""
    dagster_home = os.environ.get("DAGSTER_HOME")
    instance = (
        dg.DagsterInstance.from_config(str(local_dagster_home()))
        if dagster_home
        else dg.DagsterInstance.ephemeral()
    )
    with ExitStack() as stack:
        if dagster_home:
            stack.enter_context(run_history_without_fsync(Path(dagster_home)))
        sink = stack.enter_context(serving_local_sink(store_path(home)))
        texts = stack.enter_context(serving_local_twilio_sink(twilio_store_path(home)))
        yield instance, Sinks(mail=sink.store, texts=texts.store)


def _load_history(
    config: DemoConfig, run: DemoRun, instance: dg.DagsterInstance, say: Callable[[str], None]
) -> bool:
    """Load the days before the first sending day; False (with the failures in `run`) if that failed."""
    from reengage.runs import failures, load_history

    step = time.perf_counter()
    with clock_at(run.first_day), output_to(run.log_path):
        history = load_history(
            run.world.day(0), run.first_day - timedelta(days=1), instance, checks=config.history_checks
        )
    run.phases["loading the history"] = time.perf_counter() - step
    if not history.success:
        run.failed = [f"loading the history: {line}" for line in failures(history)]
        return False
    say(f"Loaded {config.history_days} days of exports in {run.phases['loading the history']:.1f} s")
    return True


def _run_days(
    config: DemoConfig,
    run: DemoRun,
    instance: dg.DagsterInstance,
    sinks: Sinks,
    say: Callable[[str], None],
    before_day: BeforeDay | None = None,
    run_job: RunJob | None = None,
    stop_after: int | None = None,
) -> None:
    """Each sending day not yet run (up to `stop_after` of them): its job and the world's answers."""
    from reengage.defs.delivery.ledger import SendLedger
    from reengage.runs import failures, run_day

    world = run.world
    ledger = SendLedger(settings.ledger_path())
    total_days = config.history_days + config.sending_days
    done = len(run.answers)
    last_k = total_days if stop_after is None else min(total_days, world.first_sending_day + stop_after)
    exports_s = run.phases.get("world: exports of the sending days", 0.0)
    answers_s = run.phases.get("world: answers to the mail", 0.0)
    for n, k in enumerate(range(world.first_sending_day + done, last_k), start=done + 1):
        day = world.day(k)
        step = time.perf_counter()
        world.write_day(k)
        exports_s += (written := time.perf_counter() - step)
        if before_day is not None:
            before_day(day, world)
        step = time.perf_counter()
        with clock_at(day), output_to(run.log_path):
            result = (run_job or run_day)(day, instance)
        run.job_seconds.append(job := time.perf_counter() - step)
        if not result.success:
            run.failed = [f"the daily job for {day}: {line}" for line in failures(result)]
            return
        step = time.perf_counter()
        answers = world.respond(sinks.mail, k, texts=sinks.texts, ledger=ledger)
        answers_s += (answered := time.perf_counter() - step)
        run.answers.append(answers)
        held = ledger.counts(day.isoformat()).get("held", 0)
        say(
            f"day {n:>2}/{config.sending_days} {day}: exports {written:.1f} s | daily job {job:.1f} s, "
            f"{answers.messages:,} sent, {held:,} held out | world {answered:.1f} s: {answers.describe()}"
        )
        run.churn_note = _churn_note(result)
    run.phases["world: exports of the sending days"] = exports_s
    run.phases["world: answers to the mail"] = answers_s
    run.phases["daily job (all days)"] = sum(run.job_seconds)


def sink_summary(store: SinkStore, texts: TwilioSinkStore | None = None) -> str:
    """What the local sinks accepted, for the log's closing summary (texts: how many, not their
    fate, which the world's answers in the sms_events exports decide)."""
    counts = ", ".join(f"{status} {n:,}" for status, n in sorted(store.counts_by_status().items())) or "none"
    lines = [f"Local sink\n  messages by status: {counts}; requests: {store.request_count():,}"]
    if texts is not None:
        created = [t for t in texts.texts() if t.status != "canceled"]
        lines.append(f"Local Twilio sink\n  texts accepted: {len(created):,}")
    return "\n".join(lines)


def phase_lines(run: DemoRun) -> list[str]:
    lines = [f"  {name:<36}{seconds:>9.1f} s" for name, seconds in run.phases.items()]
    if run.job_seconds:
        lines.append(
            f"  {'daily job per day (median, max)':<36}{statistics.median(run.job_seconds):>9.1f} s"
            f"{max(run.job_seconds):>9.1f} s"
        )
        days = len(run.job_seconds)
        world = run.phases.get("world: exports of the sending days", 0) + run.phases.get(
            "world: answers to the mail", 0
        )
        lines.append(f"  {'world per sending day (mean)':<36}{world / days:>9.1f} s")
    return lines


def _resources_used(started: float) -> str:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return (
        f"Wall time {time.perf_counter() - started:.1f} s; peak memory {own:,.0f} MiB "
        f"(this process), {children:,.0f} MiB (largest child, dbt)"
    )


def run_demo(config: DemoConfig) -> int:
    """The `demo` command: reset the home, simulate, then print the closing table and where to look."""
    from reengage.defs.interventions.campaigns import copy_example_campaigns, load_campaigns
    from reengage.defs.measurement.config import MeasurementConfig
    from reengage.privacy.keys import PEPPER_ENV
    from reengage.warehouse import connect
    from reengage_dev.demo import DEMO_PEPPER
    from reengage_dev.demo.scoreboard import build_scoreboard, write_truth

    if settings.privacy_pepper() is None:
        # The demo world is generated data: its forget list may use the published demo pepper.
        os.environ[PEPPER_ENV] = DEMO_PEPPER
    started = time.perf_counter()
    try:
        load_spec(config.world)  # a mistake in the file stops the demo before anything is reset
    except WorldSpecError as error:
        print(f"Invalid world specification: {error}", file=sys.stderr)
        return 2
    home = settings.home()
    reset_home(home)
    # An installed product run from a new folder has no campaigns yet: the demo mails the examples.
    if copy_example_campaigns(settings.campaigns_dir()):
        print(f"Wrote the example campaigns in {settings.campaigns_dir()}")
    run = simulate(config)
    if run.failed:
        print("FAILED:", file=sys.stderr)
        for line in run.failed:
            print(f"  {line}", file=sys.stderr)
        print(f"Dagster's and dbt's log: {run.log_path}", file=sys.stderr)
        return 1

    # Imported only now: it loads the run-date partitions, which start at the earliest export
    # landed when first imported; before the world wrote its history that is today, after the
    # demo's first sending day, and the history would fall outside them.
    from reengage.summary import run_summary

    step = time.perf_counter()
    campaigns = [c.id for c in load_campaigns(settings.campaigns_dir())]
    with connect(read_only=True) as con:
        board, outcomes = build_scoreboard(
            con, run.world, run.last_day, campaigns, MeasurementConfig().min_per_arm
        )
    lift = write_truth(board, outcomes, home / "truth")
    sinks = sink_summary(SinkStore(store_path(home)), TwilioSinkStore(twilio_store_path(home)))
    with open(run.log_path, "a", encoding="utf-8") as log:
        log.write(f"\n{run_summary(run.last_day)}\n\n{sinks}\n")
    run.phases["closing table (truth)"] = time.perf_counter() - step

    print()
    print(
        f"Conversion lift per campaign and variant on {run.last_day} "
        "(matured users, each once from their first assignment; pp = points):"
    )
    print(board.describe())
    if run.churn_note:
        print(run.churn_note)
    print(f"The true lifts are the world's, never read by the pipeline: {lift}")
    print()
    report = home / "reports" / f"campaign_report_{run.last_day}.html"
    print(f"Report:  {report if report.exists() else 'not written (see the log)'}")
    print(
        "UI:      python3 dev.py ui   (or .venv/bin/reengage ui; then open http://127.0.0.1:3000/asset-groups)"
    )
    print(f"Log:     {run.log_path} (Dagster and dbt; rows per stage at its end)")
    print()
    print("Time per phase:")
    print("\n".join(phase_lines(run)))
    print(_resources_used(started))
    return 0
