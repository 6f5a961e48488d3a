"""The demo command: a demo world's history, then the daily job on it day after day as the world answers.

    python -m reengage_dev.demo [--customers N] [--sending-days N] [--history-days N] [--seed S]
        [--world FILE] [--run-date YYYY-MM-DD]

(`python3 dev.py demo ...` runs it.) It starts the local sink itself and names it to delivery
(REENGAGE_LOCAL_SINK_URL) for as long as the demo runs.
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

from reengage_dev.demo.loop import DemoConfig, run_demo


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m reengage_dev.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000, help="the world's size (default 20,000)")
    parser.add_argument("--sending-days", type=int, default=14, help="days of the daily job (default 14)")
    parser.add_argument(
        "--history-days", type=int, default=60, help="days of exports before them (default 60)"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--world", type=Path, default=None, help="a world specification (YAML; default: built in)"
    )
    parser.add_argument(
        "--run-date", type=date.fromisoformat, default=None, help="the last sending day (default: today, UTC)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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
