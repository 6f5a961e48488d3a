"""Command line for the Twilio sink, so tests and users can run it in its own process.

    python -m reengage_dev.twilio_sink serve --store PATH [--port N] [--host H]
        [--clock-speed X --clock-origin UNIX_TIME] [--seed S] [--delivered R --undelivered R --stop R]
    python -m reengage_dev.twilio_sink callbacks --store PATH --landing DIR [--as-of UNIX_TIME] [--seed S] ...

`serve` prints one line `twilio sink listening on <url>` (flushed) once the port is bound,
then serves until SIGINT/SIGTERM. Rates left out: every text is delivered and nobody replies STOP.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from reengage_dev.provider_sink.cli import add_serve_options, provider_clock, serve_until_stopped
from reengage_dev.twilio_sink.callbacks import export_status_callbacks
from reengage_dev.twilio_sink.outcomes import Outcomes, Rates
from reengage_dev.twilio_sink.server import make_server
from reengage_dev.twilio_sink.store import TwilioSinkStore


def _outcomes(args: argparse.Namespace) -> Outcomes:
    failed = 1.0 - args.delivered - args.undelivered
    return Outcomes(Rates(args.delivered, args.undelivered, max(failed, 0.0), args.stop), seed=args.seed)


def _serve(args: argparse.Namespace) -> int:
    server = make_server(
        args.store, args.port, args.host, clock=provider_clock(args), outcomes=_outcomes(args)
    )
    return serve_until_stopped(server, "twilio sink")


def _callbacks(args: argparse.Namespace) -> int:
    as_of = args.as_of if args.as_of is not None else time.time()
    export = export_status_callbacks(
        TwilioSinkStore(args.store), args.landing, as_of=as_of, outcomes=_outcomes(args)
    )
    print(f"wrote {export.written} record(s) to {len(export.paths)} file(s)", end="; ")
    print(f"{export.skipped_existing} already there")
    return 0


def _add_outcome_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--delivered", type=float, default=1.0, help="share of texts delivered")
    parser.add_argument("--undelivered", type=float, default=0.0, help="share undelivered (the rest fail)")
    parser.add_argument("--stop", type=float, default=0.0, help="share of delivered texts answered STOP")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m reengage_dev.twilio_sink", description=__doc__.splitlines()[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the Twilio-compatible sink")
    add_serve_options(serve, "texts")
    _add_outcome_options(serve)
    serve.set_defaults(func=_serve)
    callbacks = commands.add_parser("callbacks", help="write status-callback records to the landing folder")
    callbacks.add_argument("--store", required=True)
    callbacks.add_argument("--landing", required=True, help="landing folder (path or fsspec URL)")
    callbacks.add_argument("--as-of", type=float, default=None, help="unix time (default: now)")
    _add_outcome_options(callbacks)
    callbacks.set_defaults(func=_callbacks)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
