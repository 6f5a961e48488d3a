"""Benchmark: a day of mail, healthy and through a fault storm then a rerun: how fast, nothing lost or twice.

    .venv/bin/python benchmarks/delivery_storm.py [--content identical demo] [--messages 200000]
        [--demo-customers 20000] [--concurrency 4] [--speed 60] [--min-lead 1800] [--timeout 2]
        [--every 0.5 2] [--runs 1] [--seed 7] [--workdir DIR]

Two kinds of day (`--content`, both by default):

* identical: `--messages` messages of one dynamic template (the same content for everyone,
  template data per person), 1,000 to a request;
* demo: one message for each of `--demo-customers` customers (the demo world's size) from the
  demo's own campaign files (`campaigns/`), rendered by the policy's rendering code with the
  personal fields the templates read (first names, categories, purchase counts; see
  devkit/reengage_dev/demo/mail_day.py), read as the delivery asset reads the intervention list.
  Five of the demo's seven campaigns render a subject and body per customer.

Each kind is first delivered to a healthy sink (the daily job's case: requests, messages per
request, msg/s), then, to a fresh sink, through the storm below and a healthy rerun.

The real sender (`deliver()`, the official sendgrid client over HTTP, the SQLite ledger on
disk) against the real sink in its own process (`python -m reengage_dev.sink serve`).
While the first run sends, the sink's fault storm (`POST /__storm`, devkit/reengage_dev/sink/
faults.py) queues a random fault every 0.5-2 s: 429 with Retry-After (a quarter of them
six in a row), 500, 502, 503, timeouts that do and do not store the request, connections
dropped before and after storing; one in ten hits the cancel endpoint instead. The storm
then stops and the same day is delivered again, healthy. The verdict comes from the sink's
own record and is asserted: 0 duplicates, every message accepted exactly once or settled
with a reason (failed or expired; a message the sink holds but the ledger did not accept
must be expired saying "the provider may have it"), nothing in flight or in doubt, and the
sender never asked for an eleventh cancel.

Time: SendGrid's rules are in hours and minutes (send_at 30 minutes ahead, cancels until
10 minutes before it, a cancelled batch holding one of ten places until its send time),
so the sink and the sender share a provider clock running `--speed` times faster than the
wall clock (devkit/reengage_dev/sink/clock.py): at the default 60, a cancel place comes back
about 31 s after the cancel instead of 31 minutes, and a Retry-After of 2 minutes takes
2 s. The sender's waits (`sleep`) and the ledger's times are in provider seconds too;
network timeouts (`--timeout`) and the storm's pace stay in wall-clock seconds.

Printed per run and kind: the healthy delivery's requests, messages per request and msg/s;
for the storm: accepted, failed and expired by reason, requests, retries, cancels and waits
for a cancel place, the storm's faults by kind, the sink's answers to cancels, and
throughput (messages per wall-clock second) of the storm run, the rerun and both. At the
end, per kind, the medians over `--runs` and the load average (other processes share the
machine's cores).
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import pandas as pd  # noqa: E402
from send_messages import messages, start_sink  # noqa: E402  (benchmarks/ is on sys.path as a script)

from reengage.defs.delivery.assets import to_messages  # noqa: E402
from reengage.defs.delivery.ledger import SendLedger  # noqa: E402
from reengage.defs.delivery.payloads import OutboundMessage, PayloadOptions  # noqa: E402
from reengage.defs.delivery.sender import DeliveryReport, RetryPolicy, deliver, make_client  # noqa: E402
from reengage_dev.demo.mail_day import demo_mail_day  # noqa: E402
from reengage_dev.sink.clock import ScaledClock  # noqa: E402
from reengage_dev.sink.store import SinkStore  # noqa: E402

MAY_HAVE = "the provider may have it"
OPTIONS = PayloadOptions(from_email="news@shop.example")


@dataclass
class Day:
    """One kind of day: how many messages, and a fresh stream of them per delivery."""

    kind: str
    n: int
    messages: Callable[[], Iterable[OutboundMessage]]


def make_day(kind: str, args: argparse.Namespace) -> Day:
    if kind == "identical":
        return Day(kind, args.messages, lambda: messages(args.messages))
    # Rendered once, as the policy writes the intervention list; the delivery reads it row by row.
    rows: pd.DataFrame = demo_mail_day(args.demo_customers, datetime.now(UTC).date(), seed=args.seed)
    return Day(kind, len(rows), lambda: to_messages(rows))


@dataclass
class Healthy:
    """A day delivered to a healthy sink."""

    n: int
    seconds: float
    requests: int

    @property
    def rate(self) -> float:
        return self.n / self.seconds

    @property
    def per_request(self) -> float:
        return self.n / self.requests if self.requests else 0.0


def run_healthy(args: argparse.Namespace, day: Day) -> Healthy:
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        work = Path(tmp)
        sink, url = start_sink(work / "sink.sqlite", 1)
        try:
            ledger = SendLedger(work / "send_ledger.sqlite")
            client = make_client("benchmark-placeholder-key", url)
            started = time.perf_counter()
            report = deliver(
                ledger,
                day.messages(),
                client,
                options=OPTIONS,
                concurrency=args.concurrency,
                min_lead_seconds=1800,
            )
            seconds = time.perf_counter() - started
        finally:
            sink.terminate()
            sink.wait(timeout=60)
        stored = SinkStore(work / "sink.sqlite")
        assert report.sent_this_run == day.n and not stored.duplicates(), "a healthy delivery lost or doubled"
        return Healthy(day.n, seconds, stored.request_count())


def admin(url: str, method: str, body: object = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    with urllib.request.urlopen(urllib.request.Request(url, data=data, method=method), timeout=10) as reply:
        raw = reply.read()
    return json.loads(raw) if raw else {}


@dataclass
class Result:
    n: int
    storm_seconds: float
    rerun_seconds: float
    storm: DeliveryReport
    rerun: DeliveryReport
    faults: dict[str, int]
    failed: Counter[str] = field(default_factory=Counter)
    expired: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    cancel_answers: Counter[str] = field(default_factory=Counter)
    max_places: int = 0
    expired_in_doubt_stored: int = 0

    @property
    def storm_rate(self) -> float:
        return self.n / self.storm_seconds

    @property
    def overall_rate(self) -> float:
        return self.n / (self.storm_seconds + self.rerun_seconds)


def run_once(args: argparse.Namespace, seed: int, day: Day) -> Result:
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        work = Path(tmp)
        clock = ScaledClock(time.time(), args.speed)
        clock_options = ("--clock-speed", str(clock.speed), "--clock-origin", repr(clock.origin))
        sink, url = start_sink(work / "sink.sqlite", 1, *clock_options)
        try:
            ledger = SendLedger(work / "send_ledger.sqlite", clock=clock)
            client = make_client("benchmark-placeholder-key", url)
            # Backoff in provider seconds (1 s doubling to a minute); a real timeout per request.
            policy = RetryPolicy(timeout_seconds=args.timeout, base_delay=1.0, max_delay=60.0, jitter=0.5)

            def send() -> DeliveryReport:
                return deliver(
                    ledger,
                    day.messages(),
                    client,
                    options=OPTIONS,
                    policy=policy,
                    concurrency=args.concurrency,
                    min_lead_seconds=args.min_lead,
                    clock=clock,
                    sleep=clock.sleep,
                )

            storm_options = {
                "every": args.every,
                "seed": seed,
                "timeout_delay": args.timeout + 1.5,
                "retry_after": [5, 120],
            }
            admin(f"{url}/__storm", "POST", storm_options)
            started = time.perf_counter()
            storm_report = send()
            storm_seconds = time.perf_counter() - started
            faults = admin(f"{url}/__storm", "DELETE")["injected"]
            admin(f"{url}/__faults", "DELETE")
            time.sleep(args.timeout + 2)  # slow answers of the storm land before the verdict
            started = time.perf_counter()
            rerun_report = send()
            rerun_seconds = time.perf_counter() - started
            time.sleep(args.timeout + 2)
        finally:
            sink.terminate()
            sink.wait(timeout=60)
        result = Result(day.n, storm_seconds, rerun_seconds, storm_report, rerun_report, faults)
        judge(result, ledger, SinkStore(work / "sink.sqlite"))
    return result


def judge(result: Result, ledger: SendLedger, store: SinkStore) -> None:
    """Compare the ledger with the sink's record; every rule broken goes to `problems`."""
    stored = store.count_by_send_id("accepted")
    duplicates = sum(n - 1 for n in stored.values() if n > 1)
    if duplicates:
        result.problems.append(f"{duplicates} duplicate(s) in the sink")
    with sqlite3.connect(ledger.path) as conn:
        rows = conn.execute("SELECT send_id, state, last_error, in_doubt FROM send_ledger").fetchall()
    states = Counter(state for _, state, _, _ in rows)
    for send_id, state, reason, in_doubt in rows:
        if state == "accepted" and stored.get(send_id) != 1:
            result.problems.append(f"{send_id} accepted in the ledger, stored {stored.get(send_id, 0)} times")
        elif state in ("failed", "expired"):
            if not reason:
                result.problems.append(f"{send_id} {state} without a reason")
            getattr(result, state)[short(reason or "")] += 1
        elif state != "accepted":
            result.problems.append(f"{send_id} left {state}{' in doubt' if in_doubt else ''}")
    # Expired "in doubt ... the provider may have it" rows may be stored (that is what the reason
    # says); any other row the sink holds but the ledger does not call accepted went out silently.
    may_have = [sid for sid, state, reason, _ in rows if state == "expired" and MAY_HAVE in (reason or "")]
    result.expired_in_doubt_stored = sum(1 for sid in may_have if stored.get(sid))
    silent = sum(
        1
        for sid, state, reason, _ in rows
        if state != "accepted" and stored.get(sid) and MAY_HAVE not in (reason or "")
    )
    if silent:
        result.problems.append(f"{silent} held by the sink, neither accepted nor said to be possibly sent")
    if len(rows) != result.n or sum(states.values()) != result.n:
        result.problems.append(f"the ledger holds {len(rows)} rows for {result.n} messages")
    log = store.status_requests()
    result.cancel_answers = Counter(f"{r['http_status']} {r['message'] or ''}".strip() for r in log)
    result.max_places = max((r["in_effect"] for r in log), default=0)
    if any("more than" in (r["message"] or "") for r in log):
        result.problems.append("the sender asked for an eleventh cancel")


def short(reason: str) -> str:
    """A reason without its batch ids and times: what kind of thing happened."""
    words = reason.split()
    return " ".join("<batch>" if len(w) > 24 else w for w in words)[:110]


def report(number: int, kind: str, h: Healthy, r: Result) -> None:
    print(
        f"run {number}, {kind} content: healthy: {h.n:,} messages in {h.requests:,} requests "
        f"({h.per_request:,.1f} per request), {h.seconds:.1f} s ({h.rate:,.0f} msg/s)"
    )
    print(
        f"  storm: {r.n:,} messages; storm run {r.storm_seconds:.1f} s ({r.storm_rate:,.0f} msg/s), "
        f"healthy rerun {r.rerun_seconds:.1f} s, overall {r.overall_rate:,.0f} msg/s"
    )
    faults = ", ".join(f"{kind} {n}" for kind, n in sorted(r.faults.items()))
    print(f"  storm faults injected ({sum(r.faults.values())}): {faults}")
    for name, d in (("storm run", r.storm), ("healthy rerun", r.rerun)):
        print(
            f"  {name}: sent {d.sent_this_run:,}, requests {d.requests:,}, retries {d.retries:,}, "
            f"cancels {d.cancels}, waits for a cancel place {d.place_waits}, requeued {d.recovered}; "
            f"after it: accepted {d.accepted:,}, failed {d.failed}, expired {d.expired}, "
            f"in doubt {d.in_doubt}, planned or in flight {d.pending}"
        )
    print(
        f"  final: accepted {r.rerun.accepted:,}, failed {r.rerun.failed}, expired {r.rerun.expired} "
        f"(of which in doubt and in fact held by the sink: {r.expired_in_doubt_stored})"
    )
    for state in ("failed", "expired"):
        for reason, n in getattr(r, state).most_common():
            print(f"    {state} {n:,}: {reason}")
    print(f"  the sink's answers to cancel requests and deletes (most places taken at once: {r.max_places}):")
    for answer, n in sorted(r.cancel_answers.items()):
        print(f"    HTTP {answer}: {n}")
    print(
        f"  verdict: {'OK' if not r.problems else 'BROKEN'}: 0 duplicates, 0 in doubt, 0 unsent without a "
        f"reason{'' if not r.problems else ' - ' + '; '.join(r.problems[:5])}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--content",
        nargs="+",
        choices=("identical", "demo"),
        default=["identical", "demo"],
        help="kinds of day",
    )
    parser.add_argument("--messages", type=int, default=200_000, help="messages of the identical-content day")
    parser.add_argument(
        "--demo-customers", type=int, default=20_000, help="messages of the demo-campaigns day"
    )
    parser.add_argument("--concurrency", type=int, default=4, help="requests in flight at once")
    parser.add_argument("--speed", type=float, default=60.0, help="provider seconds per wall-clock second")
    parser.add_argument("--min-lead", type=float, default=1800, help="lead time, provider seconds")
    parser.add_argument("--timeout", type=float, default=2.0, help="HTTP timeout, wall-clock seconds")
    parser.add_argument("--runs", type=int, default=1, help="repeat and report medians")
    parser.add_argument(
        "--every", type=float, nargs=2, default=[0.5, 2.0], help="seconds between faults (harsher: 0.05 0.2)"
    )
    parser.add_argument("--seed", type=int, default=7, help="the storm's seed (run k uses seed + k)")
    parser.add_argument("--workdir", default=None, help="default: a temporary folder, removed afterwards")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    days = [make_day(kind, args) for kind in args.content]
    print(
        ", ".join(f"{d.kind} content: {d.n:,} messages" for d in days) + f"; {args.concurrency} in flight; "
        f"provider clock x{args.speed:g}, "
        f"lead {args.min_lead:g} provider s, HTTP timeout {args.timeout:g} s; "
        f"a fault every {args.every[0]:g}-{args.every[1]:g} s"
    )
    load_before = os.getloadavg()
    results: dict[str, list[tuple[Healthy, Result]]] = {d.kind: [] for d in days}
    for number in range(1, args.runs + 1):
        for day in days:
            healthy = run_healthy(args, day)
            storm = run_once(args, args.seed + number - 1, day)
            results[day.kind].append((healthy, storm))
            report(number, day.kind, healthy, storm)
    load_after = os.getloadavg()
    print(f"medians of {args.runs} run(s):")
    for kind, pairs in results.items():
        healthy = [h for h, _ in pairs]
        storms = [r for _, r in pairs]
        print(
            f"  {kind} content: {healthy[0].n:,} messages, "
            f"requests {statistics.median(h.requests for h in healthy):,g}, "
            f"{statistics.median(h.per_request for h in healthy):,.1f} messages per request, "
            f"healthy {statistics.median(h.rate for h in healthy):,.0f} msg/s; "
            f"storm run {statistics.median(r.storm_rate for r in storms):,.0f} msg/s, "
            f"storm and rerun {statistics.median(r.overall_rate for r in storms):,.0f} msg/s, "
            f"cancels {statistics.median(r.storm.cancels for r in storms):g}, "
            f"expired {statistics.median(r.rerun.expired for r in storms):g}"
        )
    before, after = (" ".join(f"{x:.2f}" for x in load) for load in (load_before, load_after))
    print(f"load average (1, 5, 15 min): {before} before, {after} after")
    broken = [r for pairs in results.values() for _, r in pairs if r.problems]
    assert not broken, f"{len(broken)} run(s) broke a promise: {broken[0].problems[:5]}"
    return 0


if __name__ == "__main__":
    sys.exit(main())
