"""Benchmark ingest on exports too long or too wide to trust, and on a history load: peak memory, rows/s.

    .venv/bin/python benchmarks/ingest_memory.py                       # every case, full size
    .venv/bin/python benchmarks/ingest_memory.py --case rows --rows 2000000 --repeats 3
    .venv/bin/python benchmarks/ingest_memory.py --case backfill --compare-python-reader

Each case lands one file and loads it with the real loader (`load_day`) into a DuckDB file, in a
fresh child process, so the peak RSS printed is that load's (plus the interpreter and its imports):

- single_line: an events CSV whose one data line is --line-mb MB long (default 1024, the 1 GB
  single-line file). Ingest quarantines it unread; before streaming it took 7 GB.
- rows: an events CSV of --rows rows (default 10,000,000, about 1 GB), with a duplicate event_id
  every 100,000 rows so the file-wide duplicate search runs too.
- wide_header: a customers CSV with --columns columns (default 100,000) and three rows. Before, its
  duplicate-column check alone was quadratic (30,000 columns took 63 s).
- backfill: --rows events (default 10,000,000) over --days daily CSV files (default 90), loaded as
  a history load loads a partition range (`loader.load_days`: days committed in groups), on one
  DuckDB thread (--threads to change). Each file holds a duplicate event_id every 100,000 rows, so
  files of fewer rows repeat no key (`--rows 2000000 --days 30`: 66,667 rows a file) and larger ones
  take the path that looks for repeated keys first.

Plain CSV files are read by DuckDB (reengage/defs/ingest/bulk.py); --compare-python-reader runs
each case a second time with the Python reader alone, a transaction a day at DuckDB's own settings
(what every file went through before), so one run prints the figure before and after. A CSV file
over 256 MiB, such as the rows case's default, is read by the Python reader either way (bulk.py).

Prints, per case, the median over --repeats of wall seconds, CPU seconds (all threads of the load;
steadier than wall time on a shared machine) and rows/s, and the largest peak RSS. Targets: peak
under 2 GiB for any single file; a 100,000-column header well under 2 s; a history load at least
380,000 rows per CPU second (ten times the 38,000 rows per second of the Python reader on one core).
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import duckdb  # noqa: E402

DAY = date(2026, 3, 10)
EVENTS = "event_id,user_id,anonymous_id,event_name,event_ts,page,product_id,category,value,device,channel"
CUSTOMERS = (
    "customer_id,email,first_name,country,timezone,signup_at,plan,lifetime_value,"
    "marketing_consent,consent_updated_at,updated_at"
)
CUSTOMER = "c{n},c{n}@example.com,Ann,DE,Europe/Berlin,2026-01-05T09:00:00Z,free,1,true,,2026-03-10T07:00:00Z"
# One day of plausible events, written by DuckDB's CSV writer (fast, and no Python memory).
EVENT_ROWS = """
copy (
    select
        'ev-' || (case when i % 100000 = 99999 then i - 1 else i end)::varchar as event_id,
        case when i % 20 = 0 then null else 'c' || (i % 100003)::varchar end as user_id,
        'anon-' || (i % 200003)::varchar as anonymous_id,
        (['page_view', 'product_view', 'add_to_cart', 'purchase'])[1 + (i % 4)::integer] as event_name,
        strftime(timestamp '{day}' + to_seconds((i * 7919) % 86400), '%Y-%m-%dT%H:%M:%SZ') as event_ts,
        '/p/' || (i % 5000)::varchar as page,
        case when i % 3 = 0 then 'p' || (i % 5000)::varchar end as product_id,
        case when i % 3 = 0 then 'cat' || (i % 40)::varchar end as category,
        case when i % 50 = 0 then ((i % 20000) / 100.0)::varchar end as value,
        'web' as device,
        'organic' as channel
    from range({rows}) as t(i)
) to '{path}' (header, delimiter ',')
"""


def land_rows(path: Path, rows: int) -> int:
    with duckdb.connect() as con:
        con.execute("set enable_progress_bar = false")
        con.execute(EVENT_ROWS.format(day=DAY.isoformat(), rows=rows, path=path))
    return rows


def land_single_line(path: Path, megabytes: int) -> int:
    piece = b"x" * (1024 * 1024)
    with path.open("wb") as out:
        out.write(f"{EVENTS}\ne1,u1,a1,page_view,{DAY}T08:00:00Z,/".encode())
        for _ in range(megabytes):
            out.write(piece)
        out.write(b",,,,web,organic\n")
    return 1


def land_backfill(folder: Path, rows: int, days: int) -> list[date]:
    """`rows` events spread evenly over `days` daily files ending on DAY."""
    dates = [DAY - timedelta(days=n) for n in reversed(range(days))]
    with duckdb.connect() as con:
        con.execute("set enable_progress_bar = false")
        for n, day in enumerate(dates):
            share = rows // days + (1 if n < rows % days else 0)
            path = folder / f"events_{day}.csv"
            con.execute(EVENT_ROWS.format(day=day.isoformat(), rows=share, path=path))
    return dates


def land_wide_header(path: Path, columns: int) -> int:
    extra = columns - len(CUSTOMERS.split(","))
    with path.open("w") as out:
        out.write(CUSTOMERS + "," + ",".join(f"x{n}" for n in range(extra)) + "\n")
        for n in range(3):
            out.write(CUSTOMER.format(n=n) + "," * extra + "\n")
    return 3


CASES = {
    "single_line": ("events", land_single_line, "line_mb"),
    "rows": ("events", land_rows, "rows"),
    "wide_header": ("customers", land_wide_header, "columns"),
    "backfill": ("events", None, "rows"),
}


def _load(
    landing: str, warehouse: str, source: str, days: list[date], duckdb_reads_csv: bool, threads: int, results
) -> None:
    from reengage.defs.ingest.loader import load_day, load_days

    started, before = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
    with duckdb.connect(warehouse) as con:
        con.execute("set enable_progress_bar = false")
        con.execute(f"set threads = {threads}")  # default one core, as the figures to beat were taken
        if duckdb_reads_csv:  # as the ingest asset loads a partition range
            reports = load_days(con, landing, source, days)
        else:  # the figure before: the Python reader, a transaction a day, DuckDB's own settings
            reports = [load_day(con, landing, source, day, duckdb_reads_csv=False) for day in days]
    read = sum(r.rows_read for r in reports)
    loaded = sum(r.rows_loaded for r in reports)
    quarantined = sum(r.rows_quarantined for r in reports)
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    # CPU seconds (all threads): on a shared machine they vary far less than wall time.
    cpu = usage.ru_utime + usage.ru_stime - before.ru_utime - before.ru_stime
    peak_mib = usage.ru_maxrss / 1024  # KiB on Linux
    results.put((seconds, cpu, peak_mib, read, loaded, quarantined))


def run_case(
    name: str, size: int, repeats: int, folder: Path, days: int, readers: list[bool], threads: int
) -> None:
    source, land, _ = CASES[name]
    landing = folder / "landing"
    (landing / source).mkdir(parents=True, exist_ok=True)
    if land is None:
        dates = land_backfill(landing / source, size, days)
    else:
        land(landing / source / f"{source}_{DAY}.csv", size)
        dates = [DAY]
    megabytes = sum(p.stat().st_size for p in (landing / source).iterdir()) / 2**20
    context = multiprocessing.get_context("spawn")  # a fresh process: its peak RSS is the load's own
    for duckdb_reads_csv in readers:
        runs = []
        for _ in range(repeats):
            warehouse = folder / "warehouse.duckdb"
            warehouse.unlink(missing_ok=True)
            results = context.Queue()
            child = context.Process(
                target=_load,
                args=(str(landing), str(warehouse), source, dates, duckdb_reads_csv, threads, results),
            )
            child.start()
            outcome = results.get()
            child.join()
            runs.append(outcome)
        seconds = statistics.median(r[0] for r in runs)
        cpu = statistics.median(r[1] for r in runs)
        peak = max(r[2] for r in runs)
        read, loaded, quarantined = runs[-1][3:]
        reader = "DuckDB" if duckdb_reads_csv else "Python"
        print(
            f"{name:<12} {reader:<6} {len(dates):>3} file(s) {megabytes:>9,.1f} MB  read {read:>11,}  "
            f"loaded {loaded:>11,}  quarantined {quarantined:>5,}  median of {repeats}: {seconds:>7.2f} s, "
            f"{cpu:>7.2f} CPU s, {read / seconds:>8,.0f} rows/s ({read / cpu:>8,.0f} per CPU s)  "
            f"peak RSS {peak:>6,.0f} MiB",
            flush=True,
        )
    shutil.rmtree(landing)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--case", choices=sorted(CASES), action="append", help="default: every case")
    parser.add_argument("--line-mb", type=int, default=1024)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--columns", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=90, help="daily files of the backfill case")
    parser.add_argument(
        "--compare-python-reader",
        action="store_true",
        help="also run each case with the Python reader alone (the figure before DuckDB read CSV)",
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="DuckDB's threads for each load (default 1: one core)"
    )
    parser.add_argument(
        "--repeats", type=int, default=None, help="repeats of each case (default: 1, wide_header 5)"
    )
    parser.add_argument(
        "--dir", type=Path, default=None, help="where to write the files (default: a temp dir)"
    )
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(dir=args.dir))
    try:
        readers = [True, False] if args.compare_python_reader else [True]
        for name in args.case or ["wide_header", "single_line", "rows", "backfill"]:
            size = getattr(args, CASES[name][2])
            repeats = args.repeats or (5 if name == "wide_header" else 1)
            run_case(name, size, repeats, folder, args.days, readers, args.threads)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
