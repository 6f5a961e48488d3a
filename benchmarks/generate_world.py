"""Benchmark the demo-world generator: wall time, peak memory and rows written per source.

    python benchmarks/generate_world.py --customers 1000000 --days 60

Writes into a temporary folder (or --home) and deletes it afterwards unless --keep.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reengage_dev.demo.world import generate_world  # noqa: E402


def _peak_rss_mib() -> float:
    """Peak resident set size of this process and its children (ru_maxrss is KiB on Linux)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


def _cpu_seconds() -> float:
    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return sum(u.ru_utime + u.ru_stime for u in usage)


def _folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--end-date", type=date.fromisoformat, default=date(2024, 6, 30))
    parser.add_argument("--home", type=Path, help="output folder (default: a temporary folder under /tmp)")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    args = parser.parse_args(argv)

    home = args.home or Path(tempfile.mkdtemp(prefix="reengage-bench-", dir="/tmp"))
    started = time.perf_counter()
    summary = generate_world(
        home, customers=args.customers, days=args.days, end_date=args.end_date, seed=args.seed
    )
    elapsed = time.perf_counter() - started
    size = _folder_bytes(home)

    print(summary.describe())
    print(f"wall time: {elapsed:.1f} s")
    print(f"cpu time: {_cpu_seconds():.1f} s (user + system; the wall time includes waiting for a busy CPU)")
    print(f"peak RSS: {_peak_rss_mib():,.0f} MiB")
    total = sum(summary.rows.values())
    for source, rows in summary.rows.items():
        print(f"rows {source}: {rows:,}")
    print(f"rows total: {total:,} ({total / elapsed:,.0f} rows/s), on disk {size / 2**20:,.0f} MiB")
    if not args.keep:
        shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
