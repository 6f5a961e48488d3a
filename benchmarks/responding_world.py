"""Benchmark the responding demo world: its own time per simulated day, without the pipeline.

    .venv/bin/python benchmarks/responding_world.py --customers 1000000 --messages-per-day 50000

Writes the history, then for each sending day: the day's exports (``World.write_day``), a
day's worth of accepted messages put into a real sink store the way the local sink records
them (not timed: that is the sender's and the sink's work), and the world's answers
(``World.respond``). Prints the history's time per day, the median and the slowest sending day
for each of the two world steps, and peak memory. Writes into a temporary folder (or --home),
deleted afterwards unless --keep.
"""

from __future__ import annotations

import argparse
import hashlib
import resource
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reengage_dev.demo.world import World  # noqa: E402
from reengage_dev.sink.store import Recipient, SinkStore  # noqa: E402

CAMPAIGNS = (
    ("cart_abandonment", ("generic", "personal", "personal_free_shipping")),
    ("browse_abandonment", ("control",)),
    ("dormant_win_back", ("control", "discount_20")),
    ("welcome_onboarding", ("control", "guided_tour")),
)


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _mail(store: SinkStore, world: World, k: int, count: int, rng: np.random.Generator) -> None:
    """`count` accepted messages for day k, in requests of 1,000 as the sender sends them."""
    day = world.day(k)
    noon = int(datetime(day.year, day.month, day.day, 12, tzinfo=UTC).timestamp())
    who = rng.choice(world.pop.n, size=min(count, world.pop.n), replace=False)
    ids = world.pop.customer_id.take(who).to_pylist()
    for start in range(0, len(ids), 1000):
        recipients = []
        for customer in ids[start : start + 1000]:
            pick = int(hashlib.sha256(customer.encode()).hexdigest()[:8], 16)
            campaign, variants = CAMPAIGNS[pick % len(CAMPAIGNS)]
            send_id = hashlib.sha256(f"{customer}|{campaign}|{day}".encode()).hexdigest()[:32]
            args = {
                "send_id": send_id,
                "customer_id": customer,
                "campaign_id": campaign,
                "variant": variants[int(send_id[0], 16) % len(variants)],
                "run_date": day.isoformat(),
            }
            recipients.append(Recipient(f"{customer}@example.com", noon + int(rng.integers(0, 36_000)), args))
        store.record_request(f"bench-{k}-{start}", None, recipients, float(noon))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--history-days", type=int, default=60)
    parser.add_argument("--sending-days", type=int, default=5)
    parser.add_argument("--messages-per-day", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--end-date", type=date.fromisoformat, default=date(2024, 6, 30))
    parser.add_argument("--home", type=Path, help="output folder (default: a temporary folder under /tmp)")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    args = parser.parse_args(argv)

    home = args.home or Path(tempfile.mkdtemp(prefix="reengage-world-", dir="/tmp"))
    started = time.perf_counter()
    world = World(
        home,
        customers=args.customers,
        days=args.history_days + args.sending_days,
        end_date=args.end_date,
        seed=args.seed,
        sending_days=args.sending_days,
    )
    built = time.perf_counter() - started
    step = time.perf_counter()
    for k in range(world.first_sending_day):
        world.write_day(k)
    history = time.perf_counter() - step
    store = SinkStore(home / "sink.sqlite")
    rng = np.random.default_rng(args.seed)
    exports, answers = [], []
    for k in range(world.first_sending_day, world.window.days):
        step = time.perf_counter()
        world.write_day(k)
        exports.append(time.perf_counter() - step)
        _mail(store, world, k, args.messages_per_day, rng)
        step = time.perf_counter()
        answered = world.respond(store, k)
        answers.append(time.perf_counter() - step)
        print(
            f"  {world.day(k)}: exports {exports[-1]:.2f} s, answers {answers[-1]:.2f} s "
            f"({answered.messages:,} messages: {answered.describe()})",
            flush=True,
        )

    summary = world.summary()
    print(summary.describe())
    print(f"customers: {args.customers:,}; messages answered per sending day: {args.messages_per_day:,}")
    print(f"population and state: {built:.1f} s")
    print(
        f"history: {history:.1f} s for {args.history_days} days ({history / args.history_days:.2f} s per day)"
    )
    print(
        f"sending day, exports: median {statistics.median(exports):.2f} s, slowest {max(exports):.2f} s; "
        f"answers: median {statistics.median(answers):.2f} s, slowest {max(answers):.2f} s; "
        f"total per sending day (median): {statistics.median(np.add(exports, answers)):.2f} s"
    )
    print(f"peak RSS: {_peak_rss_mib():,.0f} MiB")
    if not args.keep:
        shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
