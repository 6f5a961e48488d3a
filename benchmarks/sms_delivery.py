"""Benchmark: texts per second through the SMS sender to the local Twilio sink, exactly once.

    .venv/bin/python benchmarks/sms_delivery.py [--texts 2000] [--concurrency 1 4 8] [--repeats 3]
        [--per-second 0] [--workdir DIR]

The real sender (`deliver_sms`, the official twilio client over HTTP, the SQLite ledger on disk)
against the Twilio sink in its own process (`python -m reengage_dev.twilio_sink serve`). Each
repeat delivers `--texts` texts of one run date (one per number, each its own request, as Twilio
has no batches) into a fresh ledger and a fresh sink store; `--per-second` paces the sender as the
Messaging Service's throughput setting does (0: unpaced, what the sender and sink can do).

Printed per concurrency and repeat: seconds, texts/s and requests; then the median texts/s over
the repeats, the sender's peak resident memory, and the load average (the machine's cores are
shared). Asserted after every repeat, from the sink's own store: every text held exactly once.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "devkit")]

from reengage.defs.delivery.ledger import SendLedger  # noqa: E402
from reengage.defs.delivery.sms_sender import SmsMessage, deliver_sms, new_provider  # noqa: E402
from reengage.defs.delivery.twilio_provider import make_twilio_client  # noqa: E402
from reengage_dev.twilio_sink import TwilioSinkStore  # noqa: E402

ACCOUNT = "AC" + "0" * 31 + "1"
SERVICE = "MG" + "0" * 31 + "2"
RUN_DATE = "2024-05-01"


def texts(n: int) -> list[SmsMessage]:
    return [
        SmsMessage(f"c{i:07d}", "winback", "A", RUN_DATE, f"+1555{i:07d}", f"Name{i}, we miss you: 10% off")
        for i in range(n)
    ]


def serve(store: Path) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "devkit")])}
    command = [
        sys.executable,
        "-m",
        "reengage_dev.twilio_sink",
        "serve",
        "--store",
        str(store),
        "--port",
        "0",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    if not line.startswith("twilio sink listening on "):
        process.kill()
        raise SystemExit(f"the sink did not start: {line!r}")
    return process, line.removeprefix("twilio sink listening on ")


def one_run(workdir: Path, n: int, concurrency: int, per_second: float) -> tuple[float, int]:
    """Deliver `n` texts to a fresh sink; (seconds, requests). Fails unless each is held exactly once."""
    workdir.mkdir(parents=True)
    process, url = serve(workdir / "twilio.sqlite")
    try:
        provider = new_provider(
            lambda: make_twilio_client(ACCOUNT, "benchmark-secret", ACCOUNT, url, 10),
            messaging_service_sid=SERVICE,
        )
        day = texts(n)
        started = time.perf_counter()
        report = deliver_sms(
            SendLedger(workdir / "send_ledger.sqlite"),
            day,
            provider,
            run_date=RUN_DATE,
            messages_per_second=per_second if per_second > 0 else 1e9,
            seconds_between_texts_to_one_number=0,
            concurrency=concurrency,
        )
        seconds = time.perf_counter() - started
    finally:
        process.terminate()
        process.wait(timeout=30)
    held = Counter(t.to for t in TwilioSinkStore(workdir / "twilio.sqlite").texts())
    assert report.accepted == n and report.complete, report.as_metadata()
    assert held == Counter(t.to for t in day), "every text held exactly once"
    return seconds, report.requests


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--per-second", type=float, default=0.0, help="pace as the setting would (0: unpaced)"
    )
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="sms_delivery_"))
    print(f"{args.texts} texts per run, {args.repeats} repeat(s), workdir {workdir}")
    medians: dict[int, float] = {}
    for concurrency in args.concurrency:
        rates = []
        for repeat in range(args.repeats):
            seconds, requests = one_run(
                workdir / f"c{concurrency}-r{repeat}", args.texts, concurrency, args.per_second
            )
            rates.append(args.texts / seconds)
            print(
                f"  concurrency {concurrency} run {repeat + 1}: {seconds:.2f} s, {rates[-1]:.0f} texts/s, "
                f"{requests} requests"
            )
        medians[concurrency] = statistics.median(rates)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("median texts/s: " + ", ".join(f"concurrency {c}: {rate:.0f}" for c, rate in medians.items()))
    print(
        f"sender peak RSS {peak_mib:.0f} MiB; load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
