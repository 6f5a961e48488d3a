"""The `serve` command's options and loop, shared by the local sinks' command lines."""

from __future__ import annotations

import argparse
import os
import signal
import threading
import time
from types import FrameType

from reengage_dev.provider_sink.http import ProviderServer
from reengage_dev.sink.clock import ScaledClock


def add_serve_options(serve: argparse.ArgumentParser, stored: str) -> None:
    """--store, --port, --host and the provider clock's --clock-speed and --clock-origin."""
    serve.add_argument("--store", required=True, help=f"SQLite file for accepted {stored}")
    serve.add_argument("--port", type=int, default=0, help="0 picks a free port")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument(
        "--clock-speed", type=float, default=1.0, help="provider seconds per wall-clock second (tests)"
    )
    serve.add_argument(
        "--clock-origin", type=float, default=None, help="unix time at which both clocks agree (default: now)"
    )


def provider_clock(args: argparse.Namespace) -> ScaledClock:
    return ScaledClock(args.clock_origin if args.clock_origin is not None else time.time(), args.clock_speed)


def serve_until_stopped(server: ProviderServer, name: str, workers: int = 1) -> int:
    """Print `<name> listening on <url>` (flushed) once every worker is up; serve until SIGINT/SIGTERM."""
    if workers > 1:
        # Every worker's select() wakes for each new connection but only one accept()s it; a
        # blocking accept() in the others would hang there, deaf to shutdown. Non-blocking, the
        # losers get an OSError, which socketserver ignores.
        server.socket.setblocking(False)
    host, port = server.server_address[:2]
    # Pre-fork: extra processes accept on the same socket and share the store file (SQLite
    # locking); each has its own GIL. Injected faults live in one process, so tests use one.
    children: list[int] = []
    parent = True
    for _ in range(max(1, workers) - 1):
        pid = os.fork()
        if pid == 0:
            children, parent = [], False
            break
        children.append(pid)
    if parent:  # once every worker exists
        print(f"{name} listening on http://{host}:{port}", flush=True)

    def stop(signum: int, frame: FrameType | None) -> None:
        # shutdown() blocks until serve_forever returns, so it must run on another thread.
        threading.Thread(target=server.shutdown, daemon=True).start()
        for child in children:
            os.kill(child, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        for child in children:
            os.waitpid(child, 0)
    return 0
