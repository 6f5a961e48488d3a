"""Benchmark: deliver N messages (default 1,000,000) to the local sink, with the send ledger.

    .venv/bin/python benchmarks/send_messages.py [--messages 1000000] [--batch-size 1000]
        [--workdir DIR] [--profile]

The sink runs in its own process (`python -m orchestration.sink serve`), as a
provider would; this process is the sender: the official sendgrid client over HTTP on
127.0.0.1, the SQLite ledger on disk, the real `deliver()` with batch ids and
scheduled sends. It prints messages per second (from the first ledger write to the
final report, message generation excluded), the sender's peak memory (max RSS), and
checks the sink's store: every message stored exactly once. Target: >= 10,000 msg/s.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from orchestration.defs.delivery.ledger import SendLedger  # noqa: E402
from orchestration.defs.delivery.payloads import OutboundMessage, PayloadOptions  # noqa: E402
from orchestration.defs.delivery.sender import deliver, make_client  # noqa: E402

RUN_DATE = "2030-01-01"


def messages(n: int) -> list[OutboundMessage]:
    return [
        OutboundMessage(
            customer_id=f"c{i:07d}",
            campaign_id="winback",
            variant="A" if i % 2 else "B",
            run_date=RUN_DATE,
            email=f"user{i}@mail.example",
            template_id="d-winback",
            template_data={"first_name": f"Name{i}", "days_away": i % 90},
        )
        for i in range(n)
    ]


def start_sink(store: Path) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "orchestration.sink", "serve", "--store", str(store), "--port", "0"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    if not line.startswith("sink listening on "):
        process.kill()
        raise SystemExit(f"sink did not start: {line!r}")
    return process, line.removeprefix("sink listening on ")


def check_store(store: Path) -> tuple[int, int]:
    """(accepted rows, distinct send ids) in the sink's store."""
    with sqlite3.connect(store) as conn:
        rows, distinct = conn.execute(
            "SELECT COUNT(*), COUNT(DISTINCT send_id) FROM messages WHERE status = 'accepted'"
        ).fetchone()
    return int(rows), int(distinct)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=4, help="requests in flight at once")
    parser.add_argument("--workdir", default=None, help="default: a temporary folder, removed afterwards")
    parser.add_argument("--profile", action="store_true", help="print the sender's top functions")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        work = Path(tmp)
        sink, url = start_sink(work / "sink.sqlite")
        try:
            started = time.perf_counter()
            outbound = messages(args.messages)
            generated = time.perf_counter() - started
            ledger = SendLedger(work / "send_ledger.sqlite")
            client = make_client("benchmark-placeholder-key", url)
            profiler = cProfile.Profile() if args.profile else None
            started = time.perf_counter()
            if profiler:
                profiler.enable()
            report = deliver(
                ledger,
                outbound,
                client,
                options=PayloadOptions(from_email="news@shop.example"),
                batch_size=args.batch_size,
                concurrency=args.concurrency,
            )
            if profiler:
                profiler.disable()
            elapsed = time.perf_counter() - started
        finally:
            sink.terminate()
            sink.wait(timeout=30)
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        stored, distinct = check_store(work / "sink.sqlite")

    rate = report.accepted / elapsed if elapsed else 0.0
    print(
        f"messages:        {args.messages:,} ({args.batch_size} per request, {report.requests:,} requests, "
        f"{args.concurrency} in flight)"
    )
    print(f"generated in:    {generated:.1f} s (not timed)")
    print(f"delivered in:    {elapsed:.1f} s")
    print(f"throughput:      {rate:,.0f} messages/s (target >= 10,000)")
    print(f"sender peak RSS: {peak_mib:,.0f} MiB")
    print(
        f"ledger:          accepted={report.accepted:,} failed={report.failed} in_doubt={report.in_doubt} "
        f"pending={report.pending}"
    )
    print(
        f"sink store:      {stored:,} accepted rows, {distinct:,} distinct send ids, "
        f"{stored - distinct} duplicates"
    )
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
    ok = report.accepted == args.messages == stored == distinct
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
