"""Benchmark the raw_events quality gate: one day of N events validated inside DuckDB.

    python benchmarks/validate_events.py --rows 50000000

Synthesizes the events with DuckDB's `range()` in a child process (so this process's
peak RSS is the validation's alone), runs `validate_table` with the real suite on the
partition, prints wall time and peak RSS, and deletes the warehouse unless --keep.
Targets: validation under 60 s and 2 GiB at 50 million rows.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import shutil
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import duckdb  # noqa: E402

DAY = date(2024, 5, 1)
EVENT_NAMES = ["page_view", "search", "login", "product_view", "add_to_cart", "checkout_started", "purchase"]

# One partition of plausible events: every 20th event anonymous, a day's worth of timestamps,
# a small share of late arrivals from the day before; no expectation fails on this data.
GENERATE = """
create schema if not exists raw;
create or replace table raw.events as
select
    'ev-' || i::varchar as event_id,
    case when i % 20 = 0 then null else 'c' || (i % 1000003)::varchar end as user_id,
    'anon-' || (i % 2000003)::varchar as anonymous_id,
    ({names})[1 + (i % {n_names})::integer] as event_name,
    timestamptz '{day} 00:00:00+00'
        + to_seconds(((i * 7919) % 86400)::bigint)
        - case when i % 100 = 0 then interval 1 day else interval 0 day end as event_ts,
    case when i % 3 = 0 then '/products/' || (i % 5000)::varchar else '/home' end as page,
    case when i % 3 = 0 then 'p' || (i % 5000)::varchar end as product_id,
    case when i % 3 = 0 then 'cat' || (i % 40)::varchar end as category,
    case when i % 50 = 0 then (i % 20000) / 100.0 end as value,
    ['desktop', 'mobile', 'tablet'][1 + (i % 3)::integer] as device,
    ['organic', 'email', 'paid'][1 + (i % 3)::integer] as channel,
    'events_{day}.parquet' as _source_file,
    i + 1 as _source_row,
    date '{day}' as _partition_date,
    timestamptz '{day} 23:30:00+00' as _loaded_at
from range({rows}) as t(i);
"""


def generate(path: str, rows: int) -> None:
    con = duckdb.connect(path)
    try:
        con.execute("set enable_progress_bar = false")
        names = "[" + ", ".join(f"'{n}'" for n in EVENT_NAMES) + "]"
        con.execute(GENERATE.format(day=DAY.isoformat(), rows=rows, names=names, n_names=len(EVENT_NAMES)))
    finally:
        con.close()


def _peak_rss_mib(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # KiB on Linux


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=50_000_000)
    parser.add_argument(
        "--dir", type=Path, default=None, help="where to put the warehouse (default: a temp dir)"
    )
    parser.add_argument("--memory-limit", default="1GB", help="DuckDB memory_limit for the validation")
    parser.add_argument("--threads", type=int, default=None, help="DuckDB threads (default: all cores)")
    parser.add_argument("--keep", action="store_true", help="keep the warehouse file afterwards")
    args = parser.parse_args(argv)

    folder = Path(tempfile.mkdtemp(prefix="validate_events_", dir=args.dir))
    path = folder / "warehouse.duckdb"
    try:
        started = time.perf_counter()
        child = multiprocessing.get_context("spawn").Process(target=generate, args=(str(path), args.rows))
        child.start()
        child.join()
        if child.exitcode != 0:
            print(f"generation failed with exit code {child.exitcode}", file=sys.stderr)
            return 1
        generated = time.perf_counter() - started
        size_mib = path.stat().st_size / 2**20

        # Imported only now: the spawned generator child re-imports this module and needs none of it.
        from reengage.defs.quality.validation import validate_table

        config = {"memory_limit": args.memory_limit}
        if args.threads:
            config["threads"] = str(args.threads)
        rss_before = _peak_rss_mib(resource.RUSAGE_SELF)
        started = time.perf_counter()
        outcome = validate_table(path, "raw.events", "raw_events", DAY, duckdb_config=config)
        validated = time.perf_counter() - started
        rss = _peak_rss_mib(resource.RUSAGE_SELF)

        child_rss = _peak_rss_mib(resource.RUSAGE_CHILDREN)
        print(f"rows                   {args.rows:,}")
        print(f"generate               {generated:.1f} s ({size_mib:,.0f} MiB file)")
        print(f"generate peak RSS      {child_rss:,.0f} MiB (child process)")
        print(f"validate               {validated:.1f} s ({len(outcome.results)} expectations)")
        print(f"peak RSS (validation)  {rss:,.0f} MiB (after imports {rss_before:,.0f} MiB)")
        print(f"duckdb memory_limit    {args.memory_limit}")
        print(f"rows per second        {args.rows / validated:,.0f}")
        print(outcome.summary)
        return 0 if outcome.success else 2
    finally:
        if args.keep:
            print(f"kept {path}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
