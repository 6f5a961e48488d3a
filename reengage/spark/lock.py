"""One build at a time in a Spark home.

A build on Spark writes the raw tables' Parquet files, then runs dbt, whose Spark opens the
embedded Derby metastore (one process at a time), then makes the stages' views over the tables
it wrote. Two builds at once would break each other: the second's raw export swaps files under
the first's Spark, and its dbt fails on a metastore already booted, with Derby's words. So a
build holds an exclusive lock on `<spark home>/build.lock` from its raw export to its views, and
a second build (a backfill started beside the daily run, say) waits for it, saying for whom.

The lock is the kernel's (`flock`), so it goes with the process that held it: a crashed build
never leaves it taken. The file keeps the holder's process id, run and start time, for the
message of whoever waits; it holds no data.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

LOCK_FILE = "build.lock"
# Longer than a build on a busy day: a scheduled run waits for a backfill rather than failing.
WAIT_SECONDS = 3 * 3600
POLL_SECONDS = 2.0
SAY_EVERY_SECONDS = 300


class SparkHomeBusy(RuntimeError):
    """Another build held the Spark home for longer than the wait allowed."""


def _holder(path: Path) -> str:
    try:
        said = path.read_text().strip()
    except OSError:
        said = ""
    return said or "another process"


@contextmanager
def one_build_at_a_time(
    home: Path,
    holder: str,
    say: Callable[[str], None] = lambda _: None,
    wait_seconds: float | None = None,
) -> Iterator[None]:
    """Hold the Spark home's build lock; `holder` names this build to whoever waits (no personal data)."""
    wait_seconds = WAIT_SECONDS if wait_seconds is None else wait_seconds
    home.mkdir(parents=True, exist_ok=True)
    path = home / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        started = time.monotonic()
        said_at = None
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                waited = time.monotonic() - started
                if waited >= wait_seconds:
                    raise SparkHomeBusy(
                        f"the Spark home {home} is still building for {_holder(path)} after {waited:.0f} s "
                        "of waiting; one build at a time may use it (its Derby metastore takes one process)"
                    ) from None
                if said_at is None or waited - said_at >= SAY_EVERY_SECONDS:
                    say(f"waiting for the Spark home {home}: building for {_holder(path)}")
                    said_at = waited
                time.sleep(POLL_SECONDS)
        os.ftruncate(fd, 0)
        os.pwrite(
            fd, f"{holder}, pid {os.getpid()}, since {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC\n".encode(), 0
        )
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
