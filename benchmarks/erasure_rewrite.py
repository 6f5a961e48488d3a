"""Benchmark: the warehouse file rewrite that follows an erasure; prints wall time, throughput, peak memory.

    .venv/bin/python benchmarks/erasure_rewrite.py                        # synthetic, 20M events
    .venv/bin/python benchmarks/erasure_rewrite.py --events 2000000       # a quick look
    .venv/bin/python benchmarks/erasure_rewrite.py --warehouse .data/warehouse.duckdb   # the demo's

An erasure deletes a person's rows, then rewrites the whole DuckDB file
(`reengage/privacy/warehouse_file.py`) so the deleted values leave its
freed blocks. That rewrite costs about one read and one write of the file,
whatever the number of people erased, and it is what this measures:

1. The warehouse: a copy of `--warehouse`, or a synthetic one built in DuckDB
   SQL (`raw.customers` and `raw.events` with ids, addresses and names as text,
   `--events` rows), then one person's rows deleted and checkpointed, as an
   erasure leaves it.
2. `--repeats` (3) times, on a fresh copy each time, in a fresh process: the
   rewrite alone. The child prints its wall time and peak RSS (`ru_maxrss`);
   the figures printed are the medians, and MiB/s is the file size over the
   median time.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

_GENERATE_SQL = """
select setseed(0.42);
create schema raw;
create table raw.customers as
select 'cus_' || lpad(cast(i as varchar), 8, '0') as customer_id,
       'person.' || i || '@example.com' as email,
       (['Ann', 'Bo', 'Chen', 'Dara', 'Eli'])[1 + cast(i % 5 as int)] || '-' || i as first_name,
       timestamptz '2026-01-01 00:00:00+00' + to_seconds(i) as updated_at
from range(1, {customers} + 1) as t(i);
create table raw.events as
select 'evt_' || i as event_id,
       'cus_' || lpad(cast(1 + i % {customers} as varchar), 8, '0') as user_id,
       uuid() as anonymous_id,
       (['page_view', 'product_view', 'purchase'])[1 + cast(random() * 2 as int)] as event_name,
       timestamptz '2026-01-01 00:00:00+00' + to_seconds(i * 7) as event_ts,
       '/p/' || cast(random() * 5000 as int) as page
from range({events}) as t(i);
"""


def build(path: Path, events: int) -> None:
    customers = max(1, events // 100)
    con = duckdb.connect(str(path))
    try:
        con.execute(_GENERATE_SQL.format(customers=customers, events=events))
    finally:
        con.close()


def erase_one_person(path: Path) -> None:
    """What an erasure leaves for the rewrite: one person's rows deleted, the file checkpointed."""
    con = duckdb.connect(str(path))
    try:
        (person,) = con.execute("select min(customer_id) from raw.customers").fetchall()[0]
        con.execute("delete from raw.customers where customer_id = ?", [person])
        con.execute("delete from raw.events where user_id = ?", [person])
        con.execute("checkpoint")
    finally:
        con.close()


def rewrite_child(path: Path) -> None:
    from reengage.privacy.warehouse_file import rewrite

    started = time.perf_counter()
    rewrite(path)
    print(f"{time.perf_counter() - started} {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--warehouse", type=Path, default=None, help="copy this DuckDB file instead")
    parser.add_argument("--events", type=int, default=20_000_000, help="synthetic events (customers: 1%%)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        rewrite_child(args.child)
        return

    with tempfile.TemporaryDirectory(prefix="erasure_rewrite_") as work:
        template = Path(work) / "template" / "warehouse.duckdb"
        template.parent.mkdir()
        started = time.perf_counter()
        if args.warehouse:
            shutil.copyfile(args.warehouse, template)
            source = str(args.warehouse)
        else:
            build(template, args.events)
            source = f"synthetic, {args.events:,} events"
        erase_one_person(template)
        size = template.stat().st_size
        prepared = time.perf_counter() - started
        print(f"warehouse: {source}; {size / 2**20:,.1f} MiB (prepared in {prepared:.1f} s)")

        seconds, peaks = [], []
        for n in range(args.repeats):
            run = Path(work) / f"run{n}" / "warehouse.duckdb"
            run.parent.mkdir()
            shutil.copyfile(template, run)
            child = subprocess.run(
                [sys.executable, __file__, "--child", str(run)], capture_output=True, text=True, check=True
            )
            wall, peak_kib = child.stdout.split()
            seconds.append(float(wall))
            peaks.append(int(peak_kib) / 1024)
            print(f"  rewrite {n + 1}: {float(wall):.1f} s, peak {int(peak_kib) / 1024:,.0f} MiB")
            shutil.rmtree(run.parent)
        median = statistics.median(seconds)
        print(
            f"rewrite, median of {args.repeats}: {median:.1f} s ({size / 2**20 / median:,.0f} MiB/s), "
            f"peak memory {statistics.median(peaks):,.0f} MiB (child process)"
        )


if __name__ == "__main__":
    main()
