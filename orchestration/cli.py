"""Command line: `demo` runs the daily job day after day on a responding world; `erase` carries out
erasure requests; `resolve --date D` settles a day's unsettled deliveries."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from orchestration.defs.delivery.resolve import add_resolve_parser, run_resolve
from orchestration.privacy.command import add_erase_parser, run_erase


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="reengage", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo", help="a demo world's history, then the daily job on it day after day as the world answers"
    )
    demo.add_argument("--customers", type=int, default=20_000, help="the world's size (default 20,000)")
    demo.add_argument("--sending-days", type=int, default=14, help="days of the daily job (default 14)")
    demo.add_argument("--history-days", type=int, default=60, help="days of exports before them (default 60)")
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument(
        "--world", type=Path, default=None, help="a world specification (YAML; default: built in)"
    )
    demo.add_argument(
        "--run-date", type=date.fromisoformat, default=None, help="the last sending day (default: today, UTC)"
    )
    add_erase_parser(commands)
    add_resolve_parser(commands)
    args = parser.parse_args(argv)
    if args.command == "erase":
        return run_erase(args)
    if args.command == "resolve":
        return run_resolve(args)
    from orchestration.demo.loop import DemoConfig, run_demo

    if args.sending_days < 1 or args.history_days < 1:
        parser.error("--sending-days and --history-days must be at least 1")
    return run_demo(
        DemoConfig(
            customers=args.customers,
            history_days=args.history_days,
            sending_days=args.sending_days,
            seed=args.seed,
            world=args.world,
            last_day=args.run_date,
        )
    )


if __name__ == "__main__":
    sys.exit(main())
