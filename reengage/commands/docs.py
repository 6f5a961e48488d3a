"""`reengage docs [--host H] [--port P]`: serve the Data Docs site over HTTP, where the checks' links point.

The Dagster UI is an http:// page, and a browser does not follow a file:// link from one, so each
quality check links its Data Docs page under the `data_docs.url` setting (default
http://127.0.0.1:3001) and this command serves the site there. The address to listen on comes from
that setting unless --host/--port say otherwise. It serves the site's folder only (not the results
it is built from) and runs until interrupted.
"""

from __future__ import annotations

import argparse
import functools
import sys
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from reengage import settings
from reengage.commands.common import CommandError
from reengage.defs.quality.data_docs import site_dir


def add_docs_parser(commands: argparse._SubParsersAction) -> None:
    docs = commands.add_parser(
        "docs",
        help="serve the Great Expectations Data Docs site over HTTP",
        description="Serve the Data Docs site (the quality checks' pages) at the data_docs.url setting's "
        "address, so the checks' links open from the Dagster UI; runs until interrupted.",
    )
    docs.add_argument("--host", help="the address to listen on (default: the data_docs.url setting's host)")
    docs.add_argument("--port", type=int, help="the port (default: the data_docs.url setting's port)")


def run_docs(args: argparse.Namespace) -> int:
    site, server, url = open_site(args.host, args.port)
    print(f"Data Docs at {url}/ (serving {site}; stop with Ctrl+C)", flush=True)
    if not (site / "index.html").exists():
        print("The site is empty until a quality check has run.", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


def open_site(host: str | None, port: int | None) -> tuple[Path, ThreadingHTTPServer, str]:
    """The site's folder (created), a server bound to --host/--port or the setting's address, and its URL."""
    host, port = listen_address(host, port)
    site = site_dir(settings.data_docs_dir())
    site.mkdir(parents=True, exist_ok=True)
    server = docs_server(site, host, port)
    return site, server, f"http://{host}:{server.server_address[1]}"


def listen_address(host: str | None, port: int | None) -> tuple[str, int]:
    """--host/--port, else the data_docs.url setting's host and port (80 for a URL without one)."""
    base = urlsplit(settings.data_docs_url())
    if (host is None or port is None) and (base.scheme != "http" or not base.hostname):
        raise CommandError(
            f"data_docs.url={base.geturl()!r} is not an http:// address to serve at; give --host and --port"
        )
    return host or str(base.hostname), port if port is not None else (base.port or 80)


def docs_server(site: Path, host: str, port: int) -> ThreadingHTTPServer:
    handler = functools.partial(_QuietHandler, directory=str(site))
    try:
        return ThreadingHTTPServer((host, port), handler)
    except OSError as err:
        raise CommandError(f"cannot listen on {host}:{port}: {err.strerror or err}") from None


class _QuietHandler(SimpleHTTPRequestHandler):
    """Files from the site folder; a line per failed request only (a page loads dozens of files)."""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def log_error(self, format: str, *args: Any) -> None:
        sys.stderr.write(f"reengage docs: {format % args}\n")
