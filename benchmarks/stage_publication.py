"""Benchmark: publishing the stages' tables for Spark's readers; prints medians of wall time and the size.

    .venv/bin/python benchmarks/stage_publication.py                       # 5M decisions, 365 run dates
    .venv/bin/python benchmarks/stage_publication.py --rows 500000 --repeats 5

On a Spark warehouse the daily job's last step writes the stages' tables as Parquet by run date
(`reengage/spark/stage_export.py`), only the run dates whose rows changed. Here a migrated DuckDB
file gets `--rows` synthetic decisions spread over `--days` run dates (the largest table a
long-running deployment publishes), and each of `--repeats` rounds, in a new folder, times:

1. the first publication (every run date written);
2. the next with nothing changed (the per-run-date digests only);
3. the next after one run date's rows were rewritten, as a daily run's stages do.

Every other published table is empty, so the figures are the decisions' cost plus a few
empty-table files. Prints the medians of each and the size of the published folder.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from reengage.schema.migrations import migrate  # noqa: E402
from reengage.spark.stage_export import export_stage_tables  # noqa: E402

DECISIONS_SQL = """
insert into interventions.decisions (run_date, customer_id, campaign_id, channel, outcome, reason,
    priority, churn_probability, treatment_probability, assignment_probability, scheduled_send_at_utc)
select date '2025-01-01' + (i % $days)::int, 'c' || (i // $days), 'nudge', 'email',
    case when i % 10 = 0 then 'holdout' else 'treatment' end, 'selected', 1, random(), 0.3, 0.3,
    timestamptz '2025-01-01 10:00:00+00' + to_seconds(i % 86400)
from range($rows) t(i)
"""


def timed(con: duckdb.DuckDBPyConnection, stages: Path) -> float:
    started = time.perf_counter()
    export_stage_tables(con, stages)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        con = duckdb.connect(str(Path(work) / "warehouse.duckdb"))
        con.execute("set timezone = 'UTC'")
        migrate(con)
        con.execute(DECISIONS_SQL, {"rows": args.rows, "days": args.days})
        con.execute("checkpoint")
        last_day = con.execute("select max(run_date) from interventions.decisions").fetchone()[0]
        first, unchanged, one_day, size = [], [], [], 0
        for round_ in range(args.repeats):
            stages = Path(work) / f"stages_{round_}"
            first.append(timed(con, stages))
            unchanged.append(timed(con, stages))
            rerun = "update interventions.decisions set churn_probability = random() where run_date = ?"
            con.execute(rerun, [last_day])
            one_day.append(timed(con, stages))
            size = sum(f.stat().st_size for f in stages.rglob("*") if f.is_file())
            shutil.rmtree(stages)
        con.close()
    print(f"{args.rows:,} decisions over {args.days} run dates, medians of {args.repeats} rounds:")
    print(f"  first publication (every run date):  {statistics.median(first):6.2f} s")
    print(f"  nothing changed (digests only):      {statistics.median(unchanged):6.2f} s")
    print(f"  one run date rewritten:              {statistics.median(one_day):6.2f} s")
    print(f"  published: {size / 2**20:.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
