"""Benchmark: deliver N messages (default 1,000,000) to the local sink, with the send ledger.

    .venv/bin/python benchmarks/send_messages.py [--messages 1000000] [--batch-size 1000]
        [--concurrency 4] [--plan-chunk 50000] [--sink-workers 1] [--runs 1] [--workdir DIR]
        [--profile]

The sink runs in its own process(es) (`python -m reengage_dev.sink serve`), as a
provider would; this process is the sender: the official sendgrid client over HTTP on
127.0.0.1, the SQLite ledger on disk, the real `deliver()` with batch ids and
scheduled sends. Messages are generated lazily and streamed into `deliver()`, as the
delivery asset streams the day's intervention list, so building them is inside the
timed window (its cost per message is printed separately).

Printed per run: messages per second overall (first ledger write to final report)
and for the sending phase (first to last request arriving at the sink, from the
sink's own timestamps); CPU per message of the sender and of the sink; the sender's
peak memory (max RSS); the load average (other processes share the machine's cores);
and the check that the sink stored every message exactly once. The local sink applies
no rate limit (SendGrid's account limits are not simulated; against the real API the
sender honours 429s and Retry-After). Target: >= 10,000 msg/s.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from reengage.defs.delivery.ledger import SendLedger  # noqa: E402
from reengage.defs.delivery.payloads import OutboundMessage, PayloadOptions  # noqa: E402
from reengage.defs.delivery.sender import deliver, make_client  # noqa: E402

RUN_DATE = "2030-01-01"
_TICKS = os.sysconf("SC_CLK_TCK")


def messages(n: int) -> Iterator[OutboundMessage]:
    """The day's messages, built one at a time (never a list of all of them)."""
    for i in range(n):
        yield OutboundMessage(
            customer_id=f"c{i:07d}",
            campaign_id="winback",
            variant="A" if i % 2 else "B",
            run_date=RUN_DATE,
            email=f"user{i}@mail.example",
            template_id="d-winback",
            template_data={"first_name": f"Name{i}", "days_away": i % 90},
        )


def generation_cpu_us(sample: int = 20_000) -> float:
    """CPU microseconds to build one message (included in the timed window)."""
    started = time.process_time()
    for _ in messages(sample):
        pass
    return (time.process_time() - started) / sample * 1e6


def start_sink(store: Path, workers: int = 1, *options: str) -> tuple[subprocess.Popen[str], str]:
    """The sink in its own process(es); `options` go to `serve` as they are."""
    command = [sys.executable, "-m", "reengage_dev.sink", "serve", "--store", str(store), "--port", "0"]
    process = subprocess.Popen(
        [*command, "--workers", str(workers), *options], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    if not line.startswith("sink listening on "):
        process.kill()
        raise SystemExit(f"sink did not start: {line!r}")
    return process, line.removeprefix("sink listening on ")


def process_tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a process and its live children, from /proc."""
    total = 0.0
    pids = [pid]
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            pids += [int(p) for p in children.read().split()]
    except OSError:
        pass
    for each in pids:
        try:
            with open(f"/proc/{each}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / _TICKS
        except OSError:
            pass
    return total


def check_store(store: Path) -> tuple[int, int, float]:
    """(accepted rows, distinct send ids, seconds from first to last request) in the sink's store."""
    with sqlite3.connect(store) as conn:
        rows, distinct, first, last = conn.execute(
            "SELECT COUNT(*), COUNT(DISTINCT send_id), MIN(received_at), MAX(received_at) "
            "FROM messages WHERE status = 'accepted'"
        ).fetchone()
    return int(rows), int(distinct), float((last or 0) - (first or 0))


@dataclass
class Result:
    n: int
    requests: int
    elapsed: float
    sending: float
    sender_cpu: float
    sink_cpu: float
    peak_mib: float
    load_before: float
    load_after: float
    ok: bool
    summary: str

    @property
    def rate(self) -> float:
        return self.n / self.elapsed if self.elapsed else 0.0

    @property
    def sending_rate(self) -> float:
        return self.n / self.sending if self.sending else 0.0


def run_once(args: argparse.Namespace, workdir: str | None) -> Result:
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        work = Path(tmp)
        sink, url = start_sink(work / "sink.sqlite", args.sink_workers)
        try:
            ledger = SendLedger(work / "send_ledger.sqlite")
            client = make_client("benchmark-placeholder-key", url)
            profiler = cProfile.Profile() if args.profile else None
            load_before = os.getloadavg()[0]
            sink_cpu_before = process_tree_cpu(sink.pid)
            cpu_before = time.process_time()
            started = time.perf_counter()
            if profiler:
                profiler.enable()
            report = deliver(
                ledger,
                messages(args.messages),
                client,
                options=PayloadOptions(from_email="news@shop.example"),
                batch_size=args.batch_size,
                concurrency=args.concurrency,
                plan_chunk=args.plan_chunk,
            )
            if profiler:
                profiler.disable()
            elapsed = time.perf_counter() - started
            sender_cpu = time.process_time() - cpu_before
            sink_cpu = process_tree_cpu(sink.pid) - sink_cpu_before
            load_after = os.getloadavg()[0]
        finally:
            sink.terminate()
            sink.wait(timeout=60)
        stored, distinct, sending = check_store(work / "sink.sqlite")
    if profiler:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    summary = (
        f"ledger accepted={report.accepted:,} failed={report.failed} in_doubt={report.in_doubt} "
        f"pending={report.pending}; sink stored {stored:,} ({distinct:,} distinct send ids, "
        f"{stored - distinct} duplicates)"
    )
    return Result(
        n=args.messages,
        requests=report.requests,
        elapsed=elapsed,
        sending=sending,
        sender_cpu=sender_cpu,
        sink_cpu=sink_cpu,
        peak_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        load_before=load_before,
        load_after=load_after,
        ok=report.accepted == args.messages == stored == distinct,
        summary=summary,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=4, help="requests in flight at once")
    parser.add_argument(
        "--plan-chunk", type=int, default=50_000, help="messages planned per ledger transaction"
    )
    parser.add_argument("--sink-workers", type=int, default=1, help="sink server processes")
    parser.add_argument("--runs", type=int, default=1, help="repeat and report the median")
    parser.add_argument("--workdir", default=None, help="default: a temporary folder, removed afterwards")
    parser.add_argument("--profile", action="store_true", help="print the sender main thread's top functions")
    args = parser.parse_args()

    generation_us = generation_cpu_us()
    print(
        f"messages: {args.messages:,} per run, {args.batch_size} per request, {args.concurrency} in flight, "
        f"{args.plan_chunk:,} planned per transaction, {args.sink_workers} sink process(es)"
    )
    print("sink: local, no rate limit (SendGrid's account limits are not simulated)")
    print(f"building a message: {generation_us:.1f} us CPU (inside the timed window)")
    results: list[Result] = []
    for number in range(1, args.runs + 1):
        r = run_once(args, args.workdir)
        results.append(r)
        print(
            f"run {number}: {r.rate:,.0f} msg/s overall ({r.elapsed:.1f} s), "
            f"{r.sending_rate:,.0f} msg/s sending phase ({r.sending:.1f} s, {r.requests:,} requests); "
            f"CPU per message: sender {r.sender_cpu / r.n * 1e6:.0f} us, "
            f"sink {r.sink_cpu / r.n * 1e6:.0f} us; sender peak RSS {r.peak_mib:,.0f} MiB; "
            f"load average {r.load_before:.1f} -> {r.load_after:.1f}"
        )
        print(f"       {r.summary}")
    if args.runs > 1:
        print(
            f"median of {args.runs}: {statistics.median(r.rate for r in results):,.0f} msg/s overall, "
            f"{statistics.median(r.sending_rate for r in results):,.0f} msg/s sending phase "
            "(target >= 10,000)"
        )
    else:
        print("target: >= 10,000 msg/s overall")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
