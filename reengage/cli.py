"""The `reengage` command line.

For your own data: `init` writes a commented settings file, `check-exports PATH` validates
export files without loading anything, `backfill --from A --to B` loads past days (no
delivery), `run --date D` runs the daily job.
Operations: `erase` carries out erasure requests; `resolve --date D` settles a day's unsettled
deliveries; `docs` serves the Data Docs site the quality checks link to; `ui` starts the
Dagster UI on the project, with the Data Docs beside it. (The demo is the
development package's: `python -m reengage_dev.demo`.)

A problem the user can fix is one line on stderr (exit 2); `--debug` shows its trace.
"""

from __future__ import annotations

import argparse
import sys
import traceback
import warnings
from collections.abc import Callable

from reengage.commands.backfill import add_backfill_parser, run_backfill
from reengage.commands.check_exports import add_check_exports_parser, run_check_exports
from reengage.commands.common import CANNOT_START, FAILED, CommandError, OneLineParser
from reengage.commands.docs import add_docs_parser, run_docs
from reengage.commands.run import add_run_parser, run_run
from reengage.commands.ui import add_ui_parser, run_ui
from reengage.defs.delivery.resolve import add_resolve_parser, run_resolve
from reengage.partitions import RunDateOutsideHistory
from reengage.privacy.command import add_erase_parser, run_erase
from reengage.settings import SettingsError
from reengage.settings_template import add_init_parser, run_init

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "backfill": run_backfill,
    "check-exports": run_check_exports,
    "docs": run_docs,
    "erase": run_erase,
    "init": run_init,
    "resolve": run_resolve,
    "run": run_run,
    "ui": run_ui,
}


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="reengage", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--debug", action="store_true", help="show the full trace of an error")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    add_init_parser(commands)
    add_check_exports_parser(commands)
    add_docs_parser(commands)
    add_backfill_parser(commands)
    add_erase_parser(commands)
    add_resolve_parser(commands)
    add_run_parser(commands)
    add_ui_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Dagster's warnings about its own definitions are for whoever writes them, not for a terminal.
    warnings.filterwarnings("ignore", module=r"dagster(\.|$)")
    try:
        return COMMANDS[args.command](args)
    except (CommandError, SettingsError, RunDateOutsideHistory) as err:
        return _one_line(args, err, CANNOT_START)
    except KeyboardInterrupt:
        print("reengage: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # anything else still ends in one line; --debug shows where
        return _one_line(args, err, FAILED, kind=True)


def _one_line(args: argparse.Namespace, err: BaseException, code: int, kind: bool = False) -> int:
    if args.debug:
        traceback.print_exception(err)
    first = (str(err).strip().splitlines() or [""])[0]
    message = f"{type(err).__name__}: {first}" if kind or not first else first
    hint = "" if args.debug else " (--debug shows the trace)"
    print(f"reengage {args.command}: {message}{hint if kind else ''}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
