"""Command line: `python -m orchestration.cli demo` runs the daily job on a generated world;
`erase` carries out erasure requests; `resolve --date D` settles a day's unsettled deliveries."""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import time
from datetime import UTC, date, datetime, timedelta

import dagster as dg

from orchestration import settings
from orchestration.defs.delivery.resolve import add_resolve_parser, run_resolve
from orchestration.privacy.command import add_erase_parser, run_erase


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="reengage", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="generate a demo world and run the daily job on it end to end")
    demo.add_argument("--customers", type=int, default=20_000)
    demo.add_argument("--days", type=int, default=60)
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--run-date", type=date.fromisoformat, default=None, help="default: today (UTC)")
    demo.add_argument("--keep", action="store_true", help="keep the previous demo warehouse and ledger")
    add_erase_parser(commands)
    add_resolve_parser(commands)
    args = parser.parse_args(argv)
    if args.command == "erase":
        return run_erase(args)
    if args.command == "resolve":
        return run_resolve(args)
    return run_demo(args)


def run_demo(args: argparse.Namespace) -> int:
    from orchestration.demo import DEMO_PEPPER, generate_world
    from orchestration.privacy.keys import PEPPER_ENV
    from orchestration.runs import failures, load_history, run_day
    from orchestration.summary import run_summary

    if settings.privacy_pepper() is None:
        # The demo world is generated data: its forget list may use the published demo pepper.
        os.environ[PEPPER_ENV] = DEMO_PEPPER
    started = time.perf_counter()
    run_date = args.run_date or datetime.now(UTC).date()
    home = settings.home()
    if not args.keep:
        _reset_demo_home(home)
    print(
        f"Demo world: {args.customers:,} customers, {args.days} days ending {run_date}, in {home}", flush=True
    )
    world = generate_world(
        home, customers=args.customers, days=args.days, end_date=run_date, seed=args.seed, replace=True
    )
    print(f"Generated in {time.perf_counter() - started:.1f}s:\n{world.describe()}", flush=True)

    instance = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()
    step = time.perf_counter()
    first_day = run_date - timedelta(days=args.days - 1)
    history = load_history(first_day, run_date - timedelta(days=1), instance=instance)
    if not history.success:
        return _fail("loading the exports", failures(history))
    print(f"  loaded {args.days - 1} days of exports in {time.perf_counter() - step:.1f}s", flush=True)

    step = time.perf_counter()
    result = run_day(run_date, instance=instance)
    print(
        f"  daily job for {run_date} in {time.perf_counter() - step:.1f}s (run id {result.run_id})",
        flush=True,
    )
    print()
    print(run_summary(run_date))
    print()
    print(_resources_used(started))
    if not result.success:
        return _fail(f"the daily job for {run_date}", failures(result))
    return 0


def _reset_demo_home(home) -> None:
    """The demo starts from an empty warehouse, ledger and sink each time; Dagster's history is kept."""
    for name in (
        "landing",
        "truth",
        "warehouse.duckdb",
        "warehouse.duckdb.wal",
        "send_ledger.sqlite",
        "sink.sqlite",
        "model_registry",
        "data_docs",
    ):
        target = home / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    for stale in home.glob("*.sqlite-*"):
        stale.unlink()


def _resources_used(started: float) -> str:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return (
        f"Wall time {time.perf_counter() - started:.1f}s; peak memory {own:,.0f} MiB "
        f"(this process), {children:,.0f} MiB (largest child, dbt)"
    )


def _fail(what: str, lines: list[str]) -> int:
    print(f"FAILED: {what}", file=sys.stderr)
    for line in lines:
        print(f"  {line}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
