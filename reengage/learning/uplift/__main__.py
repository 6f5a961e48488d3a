"""Uplift models outside the pipeline, on logged decisions: `python -m reengage.learning.uplift <command>`.

Each subcommand lives in its own module with a `register(subparsers)` function that adds its
parser and sets `run`, a function of the parsed arguments returning the exit code. A new
subcommand is a new module and one entry in `COMMANDS`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from reengage.learning.uplift import evaluate_cli, policy_value_cli

COMMANDS = (evaluate_cli, policy_value_cli)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m reengage.learning.uplift", description=__doc__.splitlines()[0]
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="command")
    for command in COMMANDS:
        command.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    return int(arguments.run(arguments))


if __name__ == "__main__":
    sys.exit(main())
