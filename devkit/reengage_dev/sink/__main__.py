"""Command line for the sink, so tests and users can run it in its own process.

    python -m reengage_dev.sink serve --store PATH [--port N] [--host H] [--workers N]
        [--clock-speed X --clock-origin UNIX_TIME]
    python -m reengage_dev.sink events --store PATH --rates user_truth.parquet --landing DIR [--seed S]

`serve` prints one line `sink listening on <url>` (flushed) once the port is bound,
then serves until SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from reengage_dev.provider_sink.cli import add_serve_options, provider_clock, serve_until_stopped
from reengage_dev.sink.server import make_server
from reengage_dev.sink.store import SinkStore


def _serve(args: argparse.Namespace) -> int:
    server = make_server(args.store, args.port, args.host, clock=provider_clock(args))
    return serve_until_stopped(server, "sink", args.workers)


def _events(args: argparse.Namespace) -> int:
    import pandas as pd  # only this command needs pandas; keep `serve` quick to start

    from reengage_dev.sink.events import export_events

    rates = pd.read_parquet(args.rates) if args.rates.endswith(".parquet") else pd.read_csv(args.rates)
    export = export_events(
        SinkStore(args.store), rates, args.landing, seed=args.seed, run_date=args.run_date, anchor=args.anchor
    )
    print(f"wrote {export.written} event(s) to {len(export.paths)} file(s)", end="; ")
    print(f"{export.skipped_existing} already there")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reengage_dev.sink", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the SendGrid-compatible sink")
    add_serve_options(serve, "mail")
    serve.add_argument(
        "--workers", type=int, default=1, help="server processes sharing the port (faults need 1)"
    )
    serve.set_defaults(func=_serve)
    events = commands.add_parser("events", help="write Event Webhook records for accepted mail")
    events.add_argument("--store", required=True)
    events.add_argument(
        "--rates", required=True, help="parquet/CSV with customer_id, open_rate, click_rate, ..."
    )
    events.add_argument("--landing", required=True, help="landing folder (path or fsspec URL)")
    events.add_argument("--seed", type=int, default=0)
    events.add_argument("--run-date", default=None, help="only mail of this run date")
    events.add_argument("--anchor", choices=("received", "run_date"), default="received")
    events.set_defaults(func=_events)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
