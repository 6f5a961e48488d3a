"""Command line for the demo-world generator: ``python -m reengage_dev.demo.generate --home PATH ...``."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path

from reengage import settings
from reengage.defs.ingest.contracts import SOURCES
from reengage_dev.demo.exports import FORMATS
from reengage_dev.demo.spec import WorldSpecError, load_spec
from reengage_dev.demo.world import generate_world


def _format_option(text: str) -> tuple[str, str]:
    source, _, fmt = text.partition("=")
    if source not in SOURCES or fmt not in FORMATS:
        raise argparse.ArgumentTypeError(
            f"expected SOURCE=FORMAT with SOURCE in {SOURCES} and FORMAT in {FORMATS}"
        )
    return source, fmt


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m reengage_dev.demo.generate",
        description="Generate a deterministic demo world's history: daily landing exports plus its truth.",
    )
    parser.add_argument("--home", type=Path, default=None, help="output folder (default: $REENGAGE_HOME)")
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--end-date", type=date.fromisoformat, default=None, help="YYYY-MM-DD (default: today, UTC)"
    )
    parser.add_argument("--dirty-share", type=float, default=0.002, help="share of deliberately bad rows")
    parser.add_argument(
        "--format",
        dest="formats",
        action="append",
        type=_format_option,
        default=[],
        metavar="SOURCE=FORMAT",
        help="file format per source, e.g. events=jsonl (repeatable)",
    )
    parser.add_argument(
        "--replace",
        action="store_true",
        help="delete landing files of an earlier, different demo world first",
    )
    parser.add_argument(
        "--world", type=Path, default=None, help="a world specification (YAML; default: the built-in world)"
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        spec = load_spec(args.world)
    except WorldSpecError as error:
        print(f"Invalid world specification: {error}", file=sys.stderr)
        return 2
    summary = generate_world(
        args.home or settings.home(),
        customers=args.customers,
        days=args.days,
        end_date=args.end_date,
        seed=args.seed,
        dirty_share=args.dirty_share,
        formats=dict(args.formats),
        replace=args.replace,
        spec=spec,
    )
    print(json.dumps(summary.to_dict(), indent=2) if args.json else summary.describe())
    return 0


if __name__ == "__main__":
    sys.exit(main())
