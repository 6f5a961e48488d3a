"""Command line: `init` writes a commented settings file; `erase` carries out erasure requests;
`resolve --date D` settles a day's unsettled deliveries. (The demo is the development package's:
`python -m reengage_dev.demo`.)"""

from __future__ import annotations

import argparse
import sys

from orchestration.defs.delivery.resolve import add_resolve_parser, run_resolve
from orchestration.privacy.command import add_erase_parser, run_erase
from orchestration.settings_template import add_init_parser, run_init


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="reengage", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    add_init_parser(commands)
    add_erase_parser(commands)
    add_resolve_parser(commands)
    args = parser.parse_args(argv)
    if args.command == "init":
        return run_init(args)
    if args.command == "erase":
        return run_erase(args)
    return run_resolve(args)


if __name__ == "__main__":
    sys.exit(main())
