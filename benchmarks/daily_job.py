"""Benchmark the daily job on the responding demo world: wall time per day and per step.

    .venv/bin/python benchmarks/daily_job.py                       # 20,000 customers, 60 + 4 days
    .venv/bin/python benchmarks/daily_job.py --customers 200000 --sending-days 3 --rerun
    eval "$(scripts/spark.sh install)"       # dbt on Apache Spark: Java, dbt-spark and their variables
    REENGAGE_WAREHOUSE_KIND=spark .venv/bin/python benchmarks/daily_job.py --customers 20000 --sending-days 2

Writes the demo world's history and loads it (timed, as one figure), then runs the real daily
job for each sending day exactly as the demo does (clock at 00:05 UTC of the day, the world
answering the mail in between; the clock runs from there so that Dagster's event log holds
real step times), and prints for every day the job's wall time, its CPU time (this process
and its finished children, dbt; steadier than wall time on a shared machine) and each step's
(from the Dagster event log: STEP_START to STEP_SUCCESS), then the median over the sending
days per step. The first sending day is reported but left out of the medians (unless it is
the only one): it is the one day whose scores, caps and history start from nothing, and the
day dbt builds every model from scratch. `--rerun` runs the last day's job a second time, to
show what a rerun of an unchanged day costs. Dagster's and dbt's output goes to
<home>/benchmark.log. Writes into a temporary folder (or --home), deleted unless --keep.

The warehouse is the kind REENGAGE_WAREHOUSE_KIND names, as for the pipeline. On `spark` the
dbt step builds the models on Spark with the dbt and the variables `scripts/spark.sh env`
prints (docs/deployment.md, "The dbt models on Apache Spark"), and the Python stages read
Spark's tables through views in the DuckDB file; the Spark home is <home>/spark whatever
REENGAGE_SPARK_HOME says, so the benchmark's world never meets another's tables.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import dagster as dg  # noqa: E402

from reengage import settings  # noqa: E402
from reengage.privacy.keys import PEPPER_ENV  # noqa: E402
from reengage_dev.demo import DEMO_PEPPER, World  # noqa: E402
from reengage_dev.demo.loop import clock_at, output_to  # noqa: E402


def step_seconds(instance: dg.DagsterInstance, run_id: str) -> dict[str, float]:
    """Seconds from each step's start to its end (success or failure), by step key, in run order."""
    started: dict[str, float] = {}
    seconds: dict[str, float] = {}
    for record in instance.all_logs(run_id):
        event = record.dagster_event
        if event is None or event.step_key is None:
            continue
        if event.event_type_value == "STEP_START":
            started[event.step_key] = record.timestamp
        elif event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE") and event.step_key in started:
            seconds[event.step_key] = record.timestamp - started[event.step_key]
    return seconds


def cpu_seconds() -> float:
    """User + system CPU of this process and its finished children (dbt), in seconds."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--history-days", type=int, default=60)
    parser.add_argument("--sending-days", type=int, default=4, help="measured days (the first is warm-up)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rerun", action="store_true", help="run the last day's job again")
    parser.add_argument("--home", type=Path, default=None)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    if args.sending_days < 1:
        parser.error("--sending-days must be at least 1")

    home = args.home or Path(tempfile.mkdtemp(prefix="daily_job_bench_"))
    os.environ["REENGAGE_HOME"] = str(home)
    os.environ.setdefault(PEPPER_ENV, DEMO_PEPPER)
    kind = settings.warehouse_kind()
    if kind == "spark":
        # before the code location loads: it parses the project with the Spark settings
        os.environ[settings.BY_KEY["spark.home"].env] = str(home / "spark")
    from reengage_dev.sink import serving_local_sink
    from reengage_dev.twilio_sink import serving_local_twilio_sink

    log = home / "benchmark.log"
    try:
        last_day = datetime.now(UTC).date()
        world = World(
            home,
            customers=args.customers,
            days=args.history_days + args.sending_days,
            end_date=last_day,
            seed=args.seed,
            replace=True,
            sending_days=args.sending_days,
        )
        started = time.perf_counter()
        for k in range(world.first_sending_day):
            world.write_day(k)
        print(
            f"world: {args.customers:,} customers, history written in {time.perf_counter() - started:.1f} s; "
            f"warehouse kind {kind}"
        )
        # Only now: the code location's first partition is the earliest export landed when it loads.
        from reengage.runs import failures, load_history, run_day

        first_day = world.day(world.first_sending_day)
        instance = dg.DagsterInstance.ephemeral()
        started, cpu_started = time.perf_counter(), cpu_seconds()
        with clock_at(first_day), output_to(log):
            history = load_history(world.day(0), first_day - timedelta(days=1), instance)
        if not history.success:
            print("FAILED: loading the history:", *failures(history), sep="\n  ", file=sys.stderr)
            return 1
        loaded, loaded_cpu = time.perf_counter() - started, cpu_seconds() - cpu_started
        print(
            f"history: {args.history_days} days loaded (with the raw gates) in {loaded:.1f} s "
            f"(CPU {loaded_cpu:.1f} s)"
        )

        # The local sinks receive the mail and the texts; delivery sends there because these name them.
        with serving_local_sink() as sink, serving_local_twilio_sink():
            store = sink.store
            per_step: dict[str, list[float]] = defaultdict(list)
            walls: list[float] = []
            cpus: list[float] = []
            days = list(range(world.first_sending_day, world.first_sending_day + args.sending_days))
            runs = [(k, False) for k in days] + ([(days[-1], True)] if args.rerun else [])
            for n, (k, rerun) in enumerate(runs):
                day = world.day(k)
                if not rerun:
                    world.write_day(k)
                started, cpu_started = time.perf_counter(), cpu_seconds()
                with clock_at(day), output_to(log):
                    result = run_day(day, instance)
                wall, cpu = time.perf_counter() - started, cpu_seconds() - cpu_started
                if not result.success:
                    print(f"FAILED: the daily job for {day}:", *failures(result), sep="\n  ", file=sys.stderr)
                    return 1
                steps = step_seconds(instance, result.run_id)
                label = f"{day} rerun" if rerun else f"{day}" + (" (warm-up)" if n == 0 else "")
                top = ", ".join(f"{s} {t:.1f}" for s, t in sorted(steps.items(), key=lambda x: -x[1])[:6])
                print(f"day {label}: {wall:.1f} s (CPU {cpu:.1f} s); slowest steps: {top}", flush=True)
                if not rerun:
                    answers = world.respond(store, k)
                    print(f"  world answered {answers.messages:,} messages", flush=True)
                # the first day stands alone only when it is the only one
                if rerun or (n == 0 and args.sending_days > 1):
                    continue
                walls.append(wall)
                cpus.append(cpu)
                for step, seconds in steps.items():
                    per_step[step].append(seconds)

        over = f"{len(walls)} days (first left out)" if args.sending_days > 1 else "the one day (warm-up)"
        print(
            f"\nmedian over {over}: daily job {statistics.median(walls):.1f} s "
            f"(CPU {statistics.median(cpus):.1f} s)"
        )
        print(f"  {'step':<44}{'median s':>10}{'max s':>9}")
        for step, values in sorted(per_step.items(), key=lambda x: -statistics.median(x[1])):
            print(f"  {step:<44}{statistics.median(values):>10.2f}{max(values):>9.2f}")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        largest = "largest child: dbt, or Spark's Java process" if kind == "spark" else "largest child, dbt"
        print(f"peak memory: {peak:,.0f} MiB (this process), {child:,.0f} MiB ({largest})")
        print(f"logs: {log}")
    finally:
        if not args.keep and args.home is None:
            shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
