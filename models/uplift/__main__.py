"""Uplift models outside the pipeline, on a file of logged decisions: `python -m models.uplift <command>`.

Every module in `models.uplift.commands` is one subcommand: its `register(subparsers)` adds a
parser and sets `run`, a function of the parsed arguments that returns the exit code. Adding a
command is adding a module there; this file does not change.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from models.churn import TrainingError
from models.features import LeakageError
from models.uplift import commands


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m models.uplift", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="command")
    for module in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        importlib.import_module(f"{commands.__name__}.{module.name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    try:
        return int(arguments.run(arguments))
    except (OSError, ValueError, LeakageError, TrainingError) as error:
        # Bad input is expected here: one line naming the file, column and rows, no traceback.
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
