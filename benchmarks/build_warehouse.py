"""Benchmark the dbt warehouse on DuckDB: full build, one incremental day, and the baseline.

    python benchmarks/build_warehouse.py              # 1,000,000 customers, 50,000,000 events
    python benchmarks/build_warehouse.py --customers 100000 --events 5000000   # a quick look
    eval "$(scripts/spark.sh install)"                # then the same world on Spark as well:
    python benchmarks/build_warehouse.py --engines duckdb,spark --customers 100000 --events 5000000

What it does, all in one run so the figures are comparable:

1. Synthesizes raw tables directly in DuckDB SQL: customers (one CRM export,
   then small daily change snapshots), events over `--days` days with
   session-like timing (a few minutes between events, sessions crossing
   midnight, 20% anonymous browsing on known devices, 10% on devices never
   identified, 1% of events landing a day late, 0.1% delivered twice) and a
   few SendGrid events. The day after the history is generated too and kept
   aside: it is the "incremental day".
2. Baseline: DuckDB alone reading every event and sorting it by owner and
   time (what sessionization needs), into a table. It runs
   `--baseline-repeats` (3) times, before the full build, after it and after
   the 14-day one, and the full build is judged against the median: the
   sort spills to disk, and one run moved from 68 s to 95 s between two
   benchmarks on the same machine.
3. `dbt build --full-refresh` as of the last history day (unit tests
   excluded, as in the daily Dagster run): wall time, peak
   memory of the dbt process, and per model the time (run_results.json) and
   the peak resident memory sampled while it ran.
4. The same full build on a copy holding only the last
   `--compare-history-days` (14) days of events.
5. The incremental day on both, `--day-repeats` (3) times each, interleaved
   (long, short, long, ...) so a drift of the machine hits both alike: each
   run lands the day on a fresh copy of the built warehouse and runs
   `dbt build` for it. The day's verdicts use the medians; a table lists
   the models whose median grows most with history.
6. With `--engines duckdb,spark`, the same world on Apache Spark as the
   pipeline runs dbt on kind spark (reengage/defs/warehouse/dbt_cli.py: the
   Spark environment's dbt, target `spark`, master, driver memory and dbt
   threads from the settings, local[2], 2g and 1 unless REENGAGE_SPARK_MASTER,
   REENGAGE_SPARK_DRIVER_MEMORY and REENGAGE_SPARK_THREADS say otherwise),
   with its Spark home in the work folder whatever REENGAGE_SPARK_HOME says: the raw tables as of the
   last history day written as the Parquet files Spark reads
   (reengage/spark/raw_export.py), `dbt build --full-refresh`, then the same
   incremental day `--spark-day-repeats` (1) times, each on a copy of the
   built Spark tables, its raw tables written again first. Peak memory is
   dbt's and Spark's Java process's together (dbt starts it): their resident
   memory summed, sampled from /proc. A table sets the full build and the
   day side by side on both engines (wall time, peak memory, Spark / DuckDB),
   then the ten slowest models on Spark with their DuckDB seconds. The
   exports are timed apart: the pipeline's dbt step makes them on Spark only.

Targets (on a 2-core machine): full build within 4x the read-and-sort
time; incremental day within 60 s and at most 1.3x the 14-day-history time;
peak memory under 6 GiB. The DuckDB memory limit is passed to dbt through
REENGAGE_DUCKDB_MEMORY_LIMIT (see dbt_project/profiles.yml). Spark has no
target: the point of its figures is where a cluster would spend its time.

The work folder (default: a temporary one) is deleted afterwards unless --keep,
which also keeps the two built warehouses as of the last history day
(history*.before-day.duckdb): copies of them repeat the day for experiments;
with Spark, its home (spark/) and its tables as of that day (spark.before-day/).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the checkout's reengage, whatever the environment installed

from reengage.schema.declared import LINEAGE_COLUMNS, QUARANTINE, RAW_TABLES  # noqa: E402

DBT_PROJECT = ROOT / "dbt_project"
DBT = Path(sys.executable).with_name("dbt")
GIB = 1024**3


def raw_tables_sql() -> str:
    """Every raw table as the product declares it (the ingest contracts' columns and the lineage every
    load adds: reengage/schema/declared.py), made empty, and the benchmark's later days beside them.

    The world leaves some empty (SMS events, the catalog, refused rows), but the staging models read
    them all. Inserts name their columns: a contract that gains one leaves it null here.
    """
    tables = [*RAW_TABLES.values(), QUARANTINE]
    return ";\n".join(
        [
            "drop schema if exists raw cascade",
            "drop schema if exists bench cascade",
            "create schema raw",
            "create schema bench",
            *(table.ddl() for table in tables),
            "create table bench.pending_events as select * from raw.events limit 0",
        ]
    )


def written_columns(table: str, last: str) -> str:
    """The declared columns of raw.`table` up to `last`, then the lineage: what the world's inserts
    select, in that order. A column a contract gains later is left null."""
    names = RAW_TABLES[table].names
    return RAW_TABLES[table].column_list([*names[: names.index(last) + 1], *(n for n, _ in LINEAGE_COLUMNS)])


# the CRM export without the SMS contact (nobody here is texted); every SendGrid column
CUSTOMER_COLUMNS = written_columns("customers", "updated_at")
EMAIL_EVENT_COLUMNS = written_columns("email_events", "reason")

# One day of sessions. $-parameters: day (date), day_index, sessions, customers, seed.
# A uniform number in [0, 1) from a hash: (hash(...) % 1000003) / 1000003.
DAY_EVENTS_SQL = """
with

sessions as (
    select
        i as session_index,
        hash($seed, $day_index, i) as h,
        -- busier customers: a skewed pick over the customer list
        cast(floor(pow((hash($seed, $day_index, i, 1) % 1000003) / 1000003.0, 1.6) * $customers) as bigint)
            as customer_index,
        (hash($seed, $day_index, i, 2) % 100) as kind_roll,
        1 + cast(hash($seed, $day_index, i, 3) % 15 as integer) as event_count,
        cast(hash($seed, $day_index, i, 4) % 86400 as integer) as start_second
    from range($sessions) as t(i)
),

owned as (
    select
        *,
        case
            when kind_roll < 70 then 'user'
            when kind_roll < 90 then 'known_device'
            else 'unknown_device'
        end as kind,
        ['desktop', 'mobile', 'mobile', 'tablet'][1 + cast(h % 4 as integer)] as device,
        ['organic', 'email', 'paid', 'social', 'direct'][1 + cast((h // 7) % 5 as integer)] as channel
    from sessions
),

events as (
    select
        owned.*,
        position,
        hash($seed, $day_index, session_index, position, 5) as eh
    from owned, unnest(range(owned.event_count)) as e(position)
),

shaped as (
    select
        'e' || $day_index || '-' || session_index || '-' || position as event_id,
        case when kind = 'user' then 'c' || customer_index end as user_id,
        case
            when kind = 'unknown_device' then 'x' || (hash($seed, customer_index, 6) % ($customers * 2))
            when kind = 'known_device' or eh % 10 < 7 then 'a' || customer_index
        end as anonymous_id,
        case
            when position = 0 and kind = 'user' and eh % 3 = 0 then 'login'
            when eh % 100 < 45 then 'page_view'
            when eh % 100 < 75 then 'product_view'
            when eh % 100 < 83 then 'search'
            when eh % 100 < 90 then 'add_to_cart'
            when eh % 100 < 93 then 'checkout_started'
            when eh % 100 < 95 then 'purchase'
            when eh % 100 < 97 then 'form_submit'
            else 'video_play'
        end as event_name,
        cast($day as timestamp)
            + to_seconds(start_second + position * 150 + cast(eh % 90 as integer)) as event_ts_naive,
        'p' || (eh % 50000) as product_id,
        'cat' || (eh % 20) as category,
        5 + (eh % 200) as amount,
        device,
        channel,
        eh
    from events
)

select
    event_id,
    user_id,
    anonymous_id,
    event_name,
    timezone('UTC', event_ts_naive) as event_ts,
    case when event_name in ('page_view', 'product_view') then '/p/' || product_id else '/' end as page,
    case when event_name in ('product_view', 'add_to_cart', 'purchase') then product_id end as product_id,
    case when event_name in ('product_view', 'add_to_cart', 'purchase') then category end as category,
    case when event_name = 'purchase' then cast(amount as double) end as value,
    device,
    channel,
    'events/events_' || strftime(partition_date, '%Y-%m-%d') || '.parquet' as _source_file,
    row_number() over () as _source_row,
    partition_date as _partition_date,
    timezone('UTC', cast(partition_date as timestamp) + interval 23 hour) as _loaded_at
from (
    select
        *,
        -- 1% of events land a day late
        cast(event_ts_naive as date) + case when eh % 1000 < 10 then 1 else 0 end as partition_date
    from shaped
)
"""


@dataclass
class Step:
    name: str
    seconds: float
    peak_bytes: int
    returncode: int = 0
    nodes: list[dict[str, Any]] = field(default_factory=list)
    output: str = ""


@dataclass
class DayRuns:
    """Repeated runs of one incremental day, each on a fresh copy of one built warehouse."""

    label: str
    steps: list[Step] = field(default_factory=list)

    @property
    def median_seconds(self) -> float:
        return statistics.median(step.seconds for step in self.steps)

    def median_model_seconds(self) -> dict[str, float]:
        per_model: dict[str, list[float]] = {}
        for step in self.steps:
            for node in step.nodes:
                if node["kind"] == "model":
                    per_model.setdefault(node["id"].split(".")[-1], []).append(node["seconds"])
        return {model: statistics.median(seconds) for model, seconds in per_model.items()}


@dataclass(frozen=True)
class Engine:
    """Where dbt builds: which dbt, its profile's target, what else its environment needs."""

    name: str
    dbt: str
    target: str
    env: dict[str, str] = field(default_factory=dict)
    # dbt on Spark starts Spark's Java process: its memory counts too
    process_tree: bool = False


DUCKDB = Engine("DuckDB", str(DBT), "dev")


def _fmt_bytes(n: int) -> str:
    return f"{n / GIB:.2f} GiB" if n >= GIB / 4 else f"{n / 1024**2:.0f} MiB"


def resident_bytes(pid: int) -> int:
    """The resident memory of one process (VmRSS), from /proc; ProcessLookupError once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError) as gone:
        raise ProcessLookupError(pid) from gone
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0  # a zombie has no memory left


def process_tree(root: int) -> list[int]:
    """`root` and every process descended from it, by the parent ids in /proc/<pid>/stat."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except (FileNotFoundError, ProcessLookupError):  # ended since the listing
            continue
        # the command name, in parentheses, may hold spaces and parentheses: fields after the last ")"
        parent = int(text.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(stat.parent.name))
    tree, stack = [], [root]
    while stack:
        pid = stack.pop()
        tree.append(pid)
        stack.extend(children.get(pid, []))
    return tree


def tree_resident_bytes(root: int) -> int:
    """Resident memory of `root` and its descendants together (shared pages counted in each);
    ProcessLookupError once `root` is gone."""
    total = resident_bytes(root)
    for pid in process_tree(root)[1:]:
        try:
            total += resident_bytes(pid)
        except ProcessLookupError:
            continue
    return total


class RssSampler:
    """Resident memory of one process, sampled every `interval` seconds from /proc.

    With `tree`, of the process and its descendants together: dbt on Spark runs Spark in a Java
    process it starts, whose memory the dbt process's own figure leaves out.
    """

    def __init__(self, pid: int, interval: float = 0.1, tree: bool = False) -> None:
        self.pid = pid
        self.interval = interval
        self.measure = tree_resident_bytes if tree else resident_bytes
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples.append((time.time(), self.measure(self.pid)))
            except ProcessLookupError:
                return
            self._stop.wait(self.interval)

    def peak_between(self, start: float, end: float) -> int:
        inside = [rss for t, rss in self.samples if start <= t <= end]
        return max(inside, default=0)

    @property
    def peak(self) -> int:
        return max((rss for _, rss in self.samples), default=0)


def run_measured(
    name: str, cmd: list[str], env: dict[str, str], cwd: Path | None = None, tree: bool = False
) -> Step:
    """Run a command; wall time and the peak RSS of that child (wait4), plus RSS samples.

    With `tree`, the samples are of the child and its descendants together, and the peak is the
    larger of their highest sum and what wait4 reports (the largest single process).
    """
    started = time.perf_counter()
    with tempfile.TemporaryFile(mode="w+") as out:
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, text=True)
        with RssSampler(proc.pid, interval=0.25 if tree else 0.1, tree=tree) as sampler:
            _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        out.seek(0)
        output = out.read()
    peak = max(usage.ru_maxrss * 1024, sampler.peak) if tree else usage.ru_maxrss * 1024
    step = Step(name, seconds, peak, proc.returncode, output=output)
    step.nodes = []  # filled by run_dbt
    step.sampler = sampler  # type: ignore[attr-defined]
    return step


def run_dbt(
    name: str,
    args: list[str],
    warehouse: Path,
    work: Path,
    env_extra: dict[str, str],
    engine: Engine | None = None,
) -> Step:
    """One dbt command on DuckDB (the product's dbt, target dev), or on `engine` when given."""
    engine = engine or DUCKDB
    target = work / f"target-{name.replace(' ', '-').replace(':', '')}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DBT_")}
    env.pop("REENGAGE_DBT_TARGET", None)
    env.update(env_extra)
    env.update(engine.env)
    env["REENGAGE_WAREHOUSE"] = str(warehouse)
    cmd = [
        engine.dbt,
        "--no-use-colors",
        *args,
        "--project-dir",
        str(DBT_PROJECT),
        "--profiles-dir",
        str(DBT_PROJECT),
        "--target",
        engine.target,
        "--target-path",
        str(target),
        "--log-path",
        str(work / "logs"),
    ]
    step = run_measured(name, cmd, env, tree=engine.process_tree)
    results_file = target / "run_results.json"
    if results_file.exists():
        results = json.loads(results_file.read_text())["results"]
        sampler: RssSampler = step.sampler  # type: ignore[attr-defined]
        for result in results:
            execute = next((t for t in result.get("timing", []) if t["name"] == "execute"), None)
            peak = 0
            if execute and execute.get("started_at") and execute.get("completed_at"):
                start = _ts(execute["started_at"])
                end = _ts(execute["completed_at"])
                peak = sampler.peak_between(start - 0.05, end + max(0.15, sampler.interval))
            step.nodes.append(
                {
                    "id": result["unique_id"],
                    "kind": result["unique_id"].split(".")[0],
                    "status": result["status"],
                    "seconds": result["execution_time"],
                    "peak": peak,
                }
            )
    if step.returncode != 0:
        tail = "\n".join(step.output.splitlines()[-40:])
        print(f"\n!! {name} failed (exit {step.returncode}):\n{tail}\n", flush=True)
    return step


def _ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


# ----------------------------------------------------------------------------- world


def generate(path: Path, customers: int, events: int, days: int, end: date, seed: int, threads: int) -> dict:
    """Write the raw tables for `days` days ending `end`, and the day after into bench.pending_events."""
    started = time.perf_counter()
    con = duckdb.connect(str(path))
    con.execute("set timezone = 'UTC'")
    con.execute(f"set threads = {threads}")
    con.execute("set preserve_insertion_order = true")
    con.execute(raw_tables_sql())
    first = end - timedelta(days=days - 1)
    zones = [
        "UTC",
        "Europe/Paris",
        "Europe/London",
        "America/New_York",
        "America/Los_Angeles",
        "Asia/Tokyo",
        "Australia/Sydney",
        "Europe/Berlin",
        "America/Sao_Paulo",
        "Asia/Kolkata",
    ]
    con.execute(
        f"""
        insert into raw.customers ({CUSTOMER_COLUMNS})
        select
            'c' || i,
            'user' || i || '@example.com',
            'Name' || (i % 1000),
            ['FR', 'DE', 'GB', 'US', 'JP', 'BR', 'IN', 'AU'][1 + cast(hash({seed}, i, 1) % 8 as integer)],
            {zones}[1 + cast(hash({seed}, i, 2) % {len(zones)} as integer)],
            timezone('UTC', cast(date '{first}' as timestamp)
                - to_seconds(cast(hash({seed}, i, 3) % (730 * 86400) as bigint))),
            ['free', 'basic', 'pro'][1 + cast(hash({seed}, i, 4) % 3 as integer)],
            cast(hash({seed}, i, 5) % 100000 as double) / 100,
            hash({seed}, i, 6) % 100 < 85,
            timezone('UTC', cast(date '{first}' as timestamp) - interval 1 day),
            timezone('UTC', cast(date '{first}' as timestamp) + interval 1 hour),
            'customers/customers_{first}.csv',
            i + 1,
            date '{first}',
            timezone('UTC', cast(date '{first}' as timestamp) + interval 23 hour)
        from range({customers}) as t(i)
        """
    )
    sessions_per_day = max(1, round(events / days / 8))
    for index in range(days + 1):  # + the incremental day
        day = first + timedelta(days=index)
        con.execute(
            "create or replace temp table day_events as " + DAY_EVENTS_SQL,
            {
                "day": day,
                "day_index": index,
                "sessions": sessions_per_day,
                "customers": customers,
                "seed": seed,
            },
        )
        # re-deliveries: 0.1% of the day's events arrive again with the next partition
        con.execute(
            """
            insert into day_events
            select * replace (
                _partition_date + 1 as _partition_date,
                _loaded_at + interval 1 day as _loaded_at,
                'events/events_' || strftime(_partition_date + 1, '%Y-%m-%d') || '_redelivered.parquet'
                    as _source_file
            )
            from day_events
            where hash(event_id, 7) % 1000 = 0
            """
        )
        con.execute(
            f"insert into raw.events by name select * from day_events where _partition_date <= date '{end}'"
        )
        con.execute(
            "insert into bench.pending_events by name "
            f"select * from day_events where _partition_date > date '{end}'"
        )
        # CRM: 0.2% of customers change each day (plan, consent)
        con.execute(
            f"""
            insert into raw.customers
            select * replace (
                ['free', 'basic', 'pro'][1 + cast(hash({seed}, customer_id, {index}) % 3 as integer)] as plan,
                hash({seed}, customer_id, {index}, 1) % 100 < 80 as marketing_consent,
                timezone('UTC', cast(date '{day}' as timestamp) + interval 9 hour) as consent_updated_at,
                timezone('UTC', cast(date '{day}' as timestamp) + interval 9 hour) as updated_at,
                'customers/customers_{day}.csv' as _source_file,
                date '{day}' as _partition_date,
                timezone('UTC', cast(date '{day}' as timestamp) + interval 23 hour) as _loaded_at
            )
            from raw.customers
            where _partition_date = date '{first}' and hash({seed}, customer_id, {index}, 2) % 1000 < 2
            """
        )
        con.execute(
            f"""
            insert into raw.email_events ({EMAIL_EVENT_COLUMNS})
            select
                'user' || c || '@example.com',
                ['delivered', 'open', 'click', 'bounce', 'unsubscribe', 'spamreport'][
                    1 + cast(hash({seed}, {index}, i, 2) % 6 as integer)],
                timezone('UTC', cast(date '{day}' as timestamp)
                    + to_seconds(cast(hash({seed}, {index}, i, 3) % 86400 as bigint))),
                'msg-' || {index} || '-' || i, 'evt-' || {index} || '-' || i,
                md5(c || '|winback|{day}'), 'winback', 'a', date '{day}', null,
                'email_events/email_events_{day}.jsonl', i + 1, date '{day}',
                timezone('UTC', cast(date '{day}' as timestamp) + interval 23 hour)
            from (
                select i, hash({seed}, {index}, i, 1) % {customers} as c
                from range({max(1, customers // 500)}) t(i)
            )
            """
        )
    counts = {
        table: con.execute(f"select count(*) from {table}").fetchone()[0]
        for table in ("raw.customers", "raw.events", "raw.email_events", "bench.pending_events")
    }
    con.execute("checkpoint")
    con.close()
    counts["seconds"] = time.perf_counter() - started
    counts["bytes"] = path.stat().st_size
    return counts


def _world_counts(path: Path) -> dict:
    con = duckdb.connect(str(path), read_only=True)
    counts = {
        table: con.execute(f"select count(*) from {table}").fetchone()[0]
        for table in ("raw.customers", "raw.events", "raw.email_events", "bench.pending_events")
    }
    con.close()
    return {**counts, "seconds": 0.0, "bytes": path.stat().st_size}


def copy_recent_history(source: Path, dest: Path, first_day: date) -> int:
    """A warehouse with the same customers and only the events landed from `first_day` on."""
    con = duckdb.connect(str(dest))
    con.execute("set timezone = 'UTC'")
    con.execute(f"attach '{source}' as src (read_only)")
    con.execute("create schema raw")
    con.execute("create schema bench")
    con.execute("create table raw.customers as select * from src.raw.customers")
    con.execute("create table raw.email_events as select * from src.raw.email_events")
    con.execute("create table raw.quarantine as select * from src.raw.quarantine")
    con.execute("create table raw.sms_events as select * from src.raw.sms_events")
    con.execute(RAW_TABLES["products"].ddl())  # empty: a source warehouse built before the catalog has none
    con.execute(
        f"create table raw.events as select * from src.raw.events where _partition_date >= date '{first_day}'"
    )
    con.execute("create table bench.pending_events as select * from src.bench.pending_events")
    rows = con.execute("select count(*) from raw.events").fetchone()[0]
    con.execute("detach src")
    con.close()
    return rows


def land_next_day(path: Path, day: date) -> int:
    con = duckdb.connect(str(path))
    con.execute("set timezone = 'UTC'")
    rows = con.execute(
        f"insert into raw.events select * from bench.pending_events where _partition_date = date '{day}'"
    ).fetchone()[0]
    con.close()
    return rows


def read_and_sort(path: Path, env: dict[str, str], work: Path) -> Step:
    """DuckDB alone: read every event and sort it by owner and time into a table, in a fresh process."""
    script = f"""
import duckdb, time
con = duckdb.connect({str(path)!r})
con.execute("set memory_limit = '{env["REENGAGE_DUCKDB_MEMORY_LIMIT"]}'")
con.execute("set timezone = 'UTC'")
con.execute(
    "create or replace table bench.sorted_events as select * from raw.events "
    "order by coalesce(user_id, anonymous_id), event_ts, event_id"
)
con.execute("drop table bench.sorted_events")
con.close()
"""
    return run_measured("read and sort", [sys.executable, "-c", script], env)


# ----------------------------------------------------------------------------- Spark


def spark_engine(spark_home: Path) -> Engine:
    """dbt on Spark as the pipeline runs it on kind spark (reengage/defs/warehouse/dbt_cli.py): the
    Spark environment's dbt, the profile's variables from the settings and Java, with the Spark home
    `spark_home` whatever REENGAGE_SPARK_HOME says (the benchmark's tables are its own). Raises
    DbtRuntimeMissing, saying what to run, when the Spark environment is not installed or exported."""
    from reengage import settings
    from reengage.defs.warehouse import dbt_cli

    # the settings as on kind spark only while the pipeline's functions read them
    saved = dict(os.environ)
    os.environ.update(REENGAGE_WAREHOUSE_KIND="spark", REENGAGE_SPARK_HOME=str(spark_home))
    os.environ.pop("REENGAGE_DBT_TARGET", None)
    try:
        dbt = dbt_cli.dbt_executable()
        env = dbt_cli.dbt_environment(runs_models=True)
        java_home = settings.java_home()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    if java_home:
        env["JAVA_HOME"] = java_home
    return Engine("Spark", dbt, "spark", env, process_tree=True)


@dataclass
class SparkRuns:
    """The full build and the incremental day on Spark, and the raw exports before each."""

    engine: Engine
    export_seconds: dict[str, float] = field(default_factory=dict)
    full: Step | None = None
    days: DayRuns = field(default_factory=lambda: DayRuns("Spark: incremental day"))

    @property
    def steps(self) -> list[Step]:
        return [*([self.full] if self.full else []), *self.days.steps]


def export_raw_for_spark(warehouse: Path, spark_home: Path) -> tuple[float, int]:
    """The raw tables of `warehouse` written as the Parquet files Spark reads: seconds, rows."""
    from reengage.spark.layout import SparkLayout
    from reengage.spark.raw_export import export_raw_warehouse

    started = time.perf_counter()
    written = export_raw_warehouse(warehouse, SparkLayout(spark_home).raw)
    return time.perf_counter() - started, sum(export.rows for export in written.values())


def spark_tables(spark_home: Path) -> list[Path]:
    """What a dbt build on Spark writes: its tables and the metastore naming them (not the raw files)."""
    from reengage.spark.layout import SparkLayout

    layout = SparkLayout(spark_home)
    return [layout.warehouse, layout.metastore]


def keep_spark_tables(spark_home: Path, kept: Path) -> None:
    shutil.rmtree(kept, ignore_errors=True)
    for folder in spark_tables(spark_home):
        shutil.copytree(folder, kept / folder.name)


def restore_spark_tables(spark_home: Path, kept: Path) -> None:
    """Spark's tables as kept, at the same path: the metastore names its tables' folders by absolute path."""
    for folder in spark_tables(spark_home):
        shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(kept / folder.name, folder)


def build_on_spark(
    engine: Engine,
    before_day: Path,
    day_file: Path,
    kept: Path,
    work: Path,
    env: dict[str, str],
    build_args: tuple[list[str], list[str]],
    next_day: date,
    repeats: int,
) -> SparkRuns:
    """The full build on Spark from the raw tables of `before_day` (the world as of the last history
    day), then the incremental day `repeats` times, each on a copy of the built tables: the day
    landed in `day_file` and its raw tables written for Spark again, as the pipeline's dbt step does."""
    spark_home = Path(engine.env["REENGAGE_SPARK_HOME"])
    shutil.rmtree(spark_home, ignore_errors=True)
    full_args, day_args = build_args
    runs = SparkRuns(engine)
    seconds, rows = export_raw_for_spark(before_day, spark_home)
    runs.export_seconds["full build"] = seconds
    print(f"\n== Spark: raw tables written as Parquet in {seconds:.1f} s ({rows:,} rows)", flush=True)
    runs.full = run_dbt("Spark: full build (--full-refresh)", full_args, before_day, work, env, engine)
    print_step(runs.full)
    if runs.full.returncode != 0:
        return runs  # no built tables for the day to start from
    keep_spark_tables(spark_home, kept)
    shutil.copyfile(before_day, day_file)
    landed = land_next_day(day_file, next_day)
    seconds, rows = export_raw_for_spark(day_file, spark_home)
    runs.export_seconds["incremental day"] = seconds
    print(
        f"\n   landed {landed:,} events of {next_day}; raw tables written as Parquet in {seconds:.1f} s",
        flush=True,
    )
    for run in range(1, repeats + 1):
        if run > 1:
            restore_spark_tables(spark_home, kept)
        step = run_dbt(f"{runs.days.label}, run {run}", day_args, day_file, work, env, engine)
        runs.days.steps.append(step)
        if run == 1:
            print_step(step)
        else:
            print(f"\n== {step.name}: {step.seconds:.1f} s, peak {_fmt_bytes(step.peak_bytes)}", flush=True)
    return runs


# ----------------------------------------------------------------------------- report


def print_step(step: Step, top: int = 40) -> None:
    print(
        f"\n== {step.name}: {step.seconds:.1f} s wall, peak memory {_fmt_bytes(step.peak_bytes)}"
        f"{'' if step.returncode == 0 else f'  (FAILED, exit {step.returncode})'}"
    )
    if not step.nodes:
        return
    by_kind: dict[str, float] = {}
    for node in step.nodes:
        by_kind[node["kind"]] = by_kind.get(node["kind"], 0.0) + node["seconds"]
    print("   time by kind: " + ", ".join(f"{k} {v:.1f} s" for k, v in sorted(by_kind.items())))
    models = [n for n in step.nodes if n["kind"] in ("model", "seed")]
    print(f"   {'model':<48} {'seconds':>8} {'peak RSS while running':>24}")
    for node in models:
        print(f"   {node['id'].split('.')[-1]:<48} {node['seconds']:>8.2f} {_fmt_bytes(node['peak']):>24}")
    tests = sorted((n for n in step.nodes if n["kind"] in ("test", "unit_test")), key=lambda n: -n["seconds"])
    slow = [n for n in tests if n["seconds"] >= 0.5][:8]
    if slow:
        print("   slowest tests: " + ", ".join(f"{n['id'].split('.')[2]} {n['seconds']:.1f} s" for n in slow))
    # exposures (models/exposures.yml) have nothing to run: dbt lists them as no-op
    failed = [n["id"] for n in step.nodes if n["status"] not in ("success", "pass", "no-op")]
    if failed:
        print(f"   NOT PASSED: {failed}")


def print_history_growth(long_days: DayRuns, short_days: DayRuns, top: int = 10) -> None:
    """The models whose median time in the incremental day grows most from the short history to the long."""
    long_models = long_days.median_model_seconds()
    short_models = short_days.median_model_seconds()
    growth = sorted(long_models, key=lambda m: short_models.get(m, 0.0) - long_models[m])[:top]
    print(f"\n== what grows with history (median seconds per model): {long_days.label} / {short_days.label}")
    for model in growth:
        long_s, short_s = long_models[model], short_models.get(model, 0.0)
        print(f"   {model:<48} {long_s:>6.2f} {short_s:>6.2f}   {long_s - short_s:+.2f}")


def _ratio(numerator: float, denominator: float) -> str:
    return f"{numerator / denominator:.1f}x" if denominator > 0 else "-"


EngineRow = tuple[str, float, int, float | None, int | None]


def engine_rows(duck_full: Step, duck_days: DayRuns, spark: SparkRuns) -> list[EngineRow]:
    """(step, DuckDB seconds, DuckDB peak, Spark seconds, Spark peak) for the full build and the day
    (medians of the runs' seconds, the highest peak); Spark's are None where it did not get there."""
    days = spark.days.steps
    return [
        (
            "full build (--full-refresh)",
            duck_full.seconds,
            duck_full.peak_bytes,
            spark.full.seconds if spark.full else None,
            spark.full.peak_bytes if spark.full else None,
        ),
        (
            f"incremental day (medians of {len(duck_days.steps)} / {len(days)})",
            duck_days.median_seconds,
            max(step.peak_bytes for step in duck_days.steps),
            spark.days.median_seconds if days else None,
            max(step.peak_bytes for step in days) if days else None,
        ),
    ]


def slowest_on_spark(
    spark_models: dict[str, float], duck_models: dict[str, float], top: int = 10
) -> list[tuple[str, float, float | None]]:
    """The `top` models Spark spent most seconds on, slowest first, each with DuckDB's seconds."""
    slowest = sorted(spark_models, key=lambda model: -spark_models[model])[:top]
    return [(model, spark_models[model], duck_models.get(model)) for model in slowest]


def print_engines(duck_full: Step, duck_days: DayRuns, spark: SparkRuns, top: int = 10) -> None:
    env = spark.engine.env
    print(
        f"\n== DuckDB and Spark side by side, the same world: Spark master {env['REENGAGE_SPARK_MASTER']}, "
        f"driver memory {env['REENGAGE_SPARK_DRIVER_MEMORY']}, dbt threads {env['REENGAGE_SPARK_THREADS']}; "
        "Spark's peak is dbt's and Spark's Java "
        "process's together"
    )
    print(
        f"   {'':<40} {'DuckDB':>10} {'Spark':>10} {'ratio':>7}   "
        f"{'DuckDB peak':>11} {'Spark peak':>11} {'ratio':>7}"
    )
    for label, duck_s, duck_peak, spark_s, spark_peak in engine_rows(duck_full, duck_days, spark):
        if spark_s is None or spark_peak is None:
            print(f"   {label:<40} {duck_s:>8.1f} s {'-':>10} {'-':>7}   {_fmt_bytes(duck_peak):>11}")
            continue
        print(
            f"   {label:<40} {duck_s:>8.1f} s {spark_s:>8.1f} s {_ratio(spark_s, duck_s):>7}   "
            f"{_fmt_bytes(duck_peak):>11} {_fmt_bytes(spark_peak):>11} {_ratio(spark_peak, duck_peak):>7}"
        )
    exports = ", ".join(
        f"before the {what} {seconds:.1f} s" for what, seconds in spark.export_seconds.items()
    )
    print(f"   Spark only, the raw tables written as Parquet (not in the times above): {exports}")
    models = [("full build", DayRuns("", [duck_full]), DayRuns("", [spark.full] if spark.full else []))]
    models.append(("incremental day, medians", duck_days, spark.days))
    for what, duck, on_spark in models:
        slowest = slowest_on_spark(on_spark.median_model_seconds(), duck.median_model_seconds(), top)
        if not slowest:
            continue
        print(f"\n== the {len(slowest)} slowest models on Spark, {what} (seconds): Spark, DuckDB, ratio")
        for model, spark_s, duck_s in slowest:
            duck_text = "-" if duck_s is None else f"{duck_s:.2f}"
            ratio = "-" if duck_s is None else _ratio(spark_s, duck_s)
            print(f"   {model:<48} {spark_s:>8.2f} {duck_text:>8} {ratio:>8}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=50_000_000, help="events over the history days")
    parser.add_argument("--days", type=int, default=60, help="days of history before the incremental day")
    parser.add_argument("--compare-history-days", type=int, default=14)
    parser.add_argument(
        "--baseline-repeats",
        type=int,
        default=3,
        help="runs of the read-and-sort baseline; the full build is judged against the median",
    )
    parser.add_argument(
        "--day-repeats",
        type=int,
        default=3,
        help="runs of each incremental day; the verdicts use the medians",
    )
    parser.add_argument(
        "--end-date",
        type=date.fromisoformat,
        default=date(2026, 3, 1),
        help="last day of history; the incremental day is the day after",
    )
    parser.add_argument("--memory-limit", default="4GB", help="DuckDB memory_limit for dbt and the baseline")
    parser.add_argument(
        "--threads", type=int, default=os.cpu_count() or 2, help="threads for generating data"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--engines",
        type=lambda text: tuple(part.strip() for part in text.split(",") if part.strip()),
        default=("duckdb",),
        help="duckdb (default), or duckdb,spark to build the same world on Spark too and compare",
    )
    parser.add_argument(
        "--spark-day-repeats",
        type=int,
        default=1,
        help="runs of the incremental day on Spark, each on a copy of the built Spark tables",
    )
    parser.add_argument(
        "--with-unit-tests",
        action="store_true",
        help="also run dbt unit tests (the daily Dagster run excludes them)",
    )
    parser.add_argument("--work-dir", type=Path, help="where the warehouses go (default: a temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="reuse the raw tables of an earlier --keep run in --work-dir (skips generating)",
    )
    args = parser.parse_args(argv)
    if args.baseline_repeats < 1 or args.day_repeats < 1 or args.spark_day_repeats < 1:
        parser.error("--baseline-repeats, --day-repeats and --spark-day-repeats take 1 or more")
    if not set(args.engines) <= {"duckdb", "spark"} or "duckdb" not in args.engines:
        parser.error("--engines takes duckdb or duckdb,spark (Spark's figures stand beside DuckDB's)")

    work = args.work_dir or Path(tempfile.mkdtemp(prefix="reengage-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "REENGAGE_DUCKDB_MEMORY_LIMIT": args.memory_limit}
    end = args.end_date
    next_day = end + timedelta(days=1)
    full_path = work / "history.duckdb"
    short_path = work / f"history_{args.compare_history_days}d.duckdb"
    raw_copy = work / "raw.duckdb"
    # the built warehouses as of the last history day: every run of the day starts from a copy
    full_before_day = work / "history.before-day.duckdb"
    short_before_day = work / f"history_{args.compare_history_days}d.before-day.duckdb"
    if not args.reuse:
        for stale in (full_path, short_path, raw_copy, full_before_day, short_before_day):
            stale.unlink(missing_ok=True)
    # on Spark: its warehouse (tables, metastore, raw Parquet), its tables as built before the day,
    # and a copy of the DuckDB file's raw tables with the day landed
    spark_home, spark_kept, spark_day_file = (
        work / "spark",
        work / "spark.before-day",
        work / "spark-day.duckdb",
    )
    spark = None
    if "spark" in args.engines:
        from reengage.defs.warehouse.dbt_cli import DbtRuntimeMissing

        try:
            spark = spark_engine(spark_home)
        except DbtRuntimeMissing as missing:  # before an hour of DuckDB, not after
            print(f"Spark: {missing}", file=sys.stderr)
            if not args.work_dir:
                shutil.rmtree(work, ignore_errors=True)
            return 2

    print(
        f"Benchmark: {args.customers:,} customers, ~{args.events:,} events over {args.days} days "
        f"ending {end}; incremental day {next_day}; DuckDB memory_limit {args.memory_limit}; "
        f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}; work folder {work}",
        flush=True,
    )
    if spark:
        print(
            f"Spark: dbt {spark.dbt}, master {spark.env['REENGAGE_SPARK_MASTER']}, driver memory "
            f"{spark.env['REENGAGE_SPARK_DRIVER_MEMORY']}, "
            f"dbt threads {spark.env['REENGAGE_SPARK_THREADS']}, Spark home {spark_home}",
            flush=True,
        )
    try:
        if args.reuse and raw_copy.exists():
            shutil.copyfile(raw_copy, full_path)
            world = _world_counts(full_path)
        else:
            world = generate(full_path, args.customers, args.events, args.days, end, args.seed, args.threads)
            if args.keep:
                shutil.copyfile(full_path, raw_copy)
        short_path.unlink(missing_ok=True)
        how = "reused" if args.reuse and world["seconds"] == 0 else f"generated in {world['seconds']:.1f} s"
        print(
            f"\n== {how}: {world['raw.customers']:,} customer rows, "
            f"{world['raw.events']:,} event rows, {world['raw.email_events']:,} email events, "
            f"{world['bench.pending_events']:,} events for later days; file {_fmt_bytes(world['bytes'])}",
            flush=True,
        )
        short_rows = copy_recent_history(
            full_path, short_path, end - timedelta(days=args.compare_history_days - 1)
        )
        print(f"   {args.compare_history_days}-day copy: {short_rows:,} event rows", flush=True)

        baselines = [read_and_sort(full_path, env, work)]
        print_step(baselines[-1])

        # what the daily Dagster asset runs (reengage/defs/warehouse/assets.py)
        exclude = [] if args.with_unit_tests else ["--exclude-resource-type", "unit_test"]
        vars_end = [*exclude, "--vars", json.dumps({"run_date": end.isoformat()})]
        vars_next = [*exclude, "--vars", json.dumps({"run_date": next_day.isoformat()})]
        full = run_dbt(
            "full build (--full-refresh)", ["build", "--full-refresh", *vars_end], full_path, work, env
        )
        print_step(full)
        shutil.copyfile(full_path, full_before_day)
        if args.baseline_repeats >= 2:
            baselines.append(read_and_sort(full_path, env, work))
            print_step(baselines[-1])

        short_full = run_dbt(
            f"full build, {args.compare_history_days}-day history",
            ["build", "--full-refresh", *vars_end],
            short_path,
            work,
            env,
        )
        print(f"\n== {short_full.name}: {short_full.seconds:.1f} s, peak {_fmt_bytes(short_full.peak_bytes)}")
        shutil.copyfile(short_path, short_before_day)
        while len(baselines) < args.baseline_repeats:
            baselines.append(read_and_sort(full_path, env, work))
            print_step(baselines[-1])
        baseline_seconds = statistics.median(step.seconds for step in baselines)

        long_days = DayRuns("incremental day")
        short_days = DayRuns(f"incremental day, {args.compare_history_days}-day history")
        for run in range(1, args.day_repeats + 1):
            for days, before_day, path in (
                (long_days, full_before_day, full_path),
                (short_days, short_before_day, short_path),
            ):
                shutil.copyfile(before_day, path)
                landed = land_next_day(path, next_day)
                step = run_dbt(f"{days.label}, run {run}", ["build", *vars_next], path, work, env)
                days.steps.append(step)
                if run == 1:
                    print(f"\n   landed {landed:,} events of {next_day}", flush=True)
                    print_step(step)
                else:
                    print(
                        f"\n== {step.name}: {step.seconds:.1f} s, peak {_fmt_bytes(step.peak_bytes)}",
                        flush=True,
                    )
        print_history_growth(long_days, short_days)
        day_steps = [*long_days.steps, *short_days.steps]
        spark_runs = None
        if spark:
            spark_runs = build_on_spark(
                spark,
                full_before_day,
                spark_day_file,
                spark_kept,
                work,
                env,
                (["build", "--full-refresh", *vars_end], ["build", *vars_next]),
                next_day,
                args.spark_day_repeats,
            )

        peak = max(s.peak_bytes for s in (*baselines, full, short_full, *day_steps))
        ratio_full = full.seconds / baseline_seconds
        ratio_incremental = long_days.median_seconds / short_days.median_seconds
        print(f"\n== summary (load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
        rows = [
            (
                f"read and sort every event, DuckDB alone (median of {len(baselines)})",
                f"{baseline_seconds:.1f} s",
                "",
            ),
            (
                "full build",
                f"{full.seconds:.1f} s",
                f"{ratio_full:.2f}x read-and-sort (target <= 4x): "
                + ("met" if ratio_full <= 4 else "MISSED"),
            ),
            (
                f"incremental day (median of {len(long_days.steps)})",
                f"{long_days.median_seconds:.1f} s",
                "target <= 60 s: " + ("met" if long_days.median_seconds <= 60 else "MISSED"),
            ),
            (
                f"incremental day, {args.compare_history_days}-day history (median)",
                f"{short_days.median_seconds:.1f} s",
                f"ratio {ratio_incremental:.2f} (target <= 1.3): "
                + ("met" if ratio_incremental <= 1.3 else "MISSED"),
            ),
            (
                "peak memory (any step)",
                _fmt_bytes(peak),
                "target < 6 GiB: " + ("met" if peak < 6 * GIB else "MISSED"),
            ),
        ]
        for label, value, verdict in rows:
            print(f"   {label:<56} {value:>10}   {verdict}")
        runs = [
            ("read and sort", baselines),
            (long_days.label, long_days.steps),
            (short_days.label, short_days.steps),
        ]
        for label, steps in runs:
            print(f"   {label} runs: " + ", ".join(f"{step.seconds:.1f} s" for step in steps))
        if spark_runs:
            print_engines(full, long_days, spark_runs)
        spark_steps = spark_runs.steps if spark_runs else []
        failed = [s.name for s in (full, short_full, *day_steps, *spark_steps) if s.returncode != 0]
        if failed:
            print(f"   dbt FAILED in: {failed}")
            return 1
        return 0
    finally:
        if not args.keep and not args.work_dir:
            shutil.rmtree(work, ignore_errors=True)
        elif not args.keep:
            for path in (full_path, short_path, full_before_day, short_before_day, spark_day_file):
                path.unlink(missing_ok=True)
            for folder in (spark_home, spark_kept):
                shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
