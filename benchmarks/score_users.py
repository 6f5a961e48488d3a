"""Benchmark: score 1,000,000 users with the saved churn model; prints wall time and peak memory.

    .venv/bin/python benchmarks/score_users.py                      # 1M users, 30 events each
    .venv/bin/python benchmarks/score_users.py --users 200000 --extras

Steps (only step 3 is the measured scoring run):

1. Build a synthetic warehouse (``intermediate.int_events_stitched`` and
   ``staging.stg_crm__customers`` with the contracted columns) of ``--users``
   customers and ``--events-per-user`` events over 120 days, in DuckDB SQL.
2. Train a model on a small world of the same shape (``--train-users``) and
   save it to a model registry folder, as the weekly retrain would.
3. In a fresh process: load the current model from the registry (skops),
   compute ``snapshot_features`` for every user as of the last day, predict
   calibrated probabilities and replace the day's rows in
   ``scoring.churn_scores`` -- exactly what the ``churn_scores`` asset does.
   The child prints its wall time and its peak RSS (``ru_maxrss``), so the
   numbers are the scoring run's own, not the data generation's.

``--extras`` also times behaviour clusters and preferred send hours in the
same child (reported separately, after the churn figures).
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

START = date(2024, 1, 1)
DAYS = 120
AS_OF = START + timedelta(days=DAYS - 1)
TARGET_SECONDS = 60.0
TARGET_GIB = 4.0

# Users sign up over the first half of the window and their events thin out afterwards,
# so the world has both active users and churners.
_GENERATE_SQL = """
select setseed(0.42);
create schema staging;
create schema intermediate;
create table staging.stg_crm__customers as
select
    'c' || lpad(cast(i as varchar), 8, '0') as customer_id,
    'c' || i || '@example.com' as email,
    timestamptz '{start} 00:00:00+00' + to_seconds((i * 7919) % {half}) as signup_at,
    (['free', 'pro', 'team'])[1 + cast(i % 3 as int)] as plan,
    0.0 as lifetime_value, true as marketing_consent,
    (['UTC', 'America/New_York', 'Europe/Berlin', 'Asia/Tokyo'])[1 + cast(i % 4 as int)] as timezone,
    'US' as country
from range({users}) as t(i);

create table intermediate.int_events_stitched as
with raw as (
    select j, j % {users} as u, random() as r, random() * random() as age
    from range({events}) as t(j)
),
placed as (
    select *, (u * 7919) % {half} as signup_s from raw
)
select
    'e' || j as event_id,
    'c' || lpad(cast(u as varchar), 8, '0') as customer_id,
    'a' || u as anonymous_id,
    case when r < 0.6 then 'page_view' when r < 0.8 then 'add_to_cart'
         when r < 0.9 then 'form_submit' else 'purchase' end as event_name,
    timestamptz '{start} 00:00:00+00'
        + to_seconds(signup_s + cast(floor(age * ({days} * 86400 - signup_s)) as bigint)) as event_ts,
    r >= 0.6 as is_active_action,
    null as page, null as product_id, null as category,
    case when r >= 0.9 then round(random() * 100, 2) end as value,
    null as device, null as channel
from placed;
"""


def generate(path: Path, users: int, events_per_user: int) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute(
            _GENERATE_SQL.format(
                start=START, days=DAYS, half=DAYS * 86400 // 2, users=users, events=users * events_per_user
            )
        )


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # Linux: KiB


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def score_child(db: Path, model_dir: Path, extras: bool, threads: int | None) -> None:
    """The measured run: load the current model, score every user, write the scores."""
    started = time.perf_counter()
    from reengage.learning import registry
    from reengage.learning.features import snapshot_features
    from reengage.learning.scoring import score, write_scores

    model = registry.load_current(model_dir)
    assert model is not None, "no current model in the registry"
    loaded = time.perf_counter()
    with duckdb.connect(str(db)) as con:
        scores = score(con, model, AS_OF, n_threads=threads)
        scored = time.perf_counter()
        rows = write_scores(con, scores, AS_OF)
        done = time.perf_counter()
        wall = done - started
        cpu = cpu_seconds()
        gib = peak_rss_gib()
        # Not part of the measured run: how the features + predict time splits.
        features = snapshot_features(con, AS_OF)
        features_s = time.perf_counter() - done
    print(
        f"scored {rows:,} users in {wall:.1f} s wall (load model {loaded - started:.1f} s, "
        f"features + predict {scored - loaded:.1f} s [features alone, re-run: {features_s:.1f} s], "
        f"write {done - scored:.1f} s); CPU {cpu:.1f} s; prediction threads {threads or 'all'}; "
        f"peak RSS {gib:.2f} GiB",
        flush=True,
    )
    del features
    verdict = "PASS" if wall < TARGET_SECONDS and gib < TARGET_GIB else "MISS"
    print(f"target < {TARGET_SECONDS:.0f} s and < {TARGET_GIB:.0f} GiB: {verdict}", flush=True)
    del scores

    if extras:
        from reengage.learning.clusters import ClusterConfig, cluster_behaviour, write_clusters
        from reengage.learning.features import snapshot_features
        from reengage.learning.send_hour import preferred_send_hours, write_send_hours
        from reengage.tables import as_frame

        with duckdb.connect(str(db)) as con:
            t0 = time.perf_counter()
            features = snapshot_features(con, AS_OF)
            features["sessions_28d"] = features["events_28d"]  # the mart's column; a stand-in here
            result = cluster_behaviour(features, ClusterConfig())
            write_clusters(con, result.assignments, AS_OF)
            t1 = time.perf_counter()
            print(
                f"behaviour clusters: {len(result.assignments):,} users, k={result.k} in {t1 - t0:.1f} s; "
                f"peak RSS so far {peak_rss_gib():.2f} GiB",
                flush=True,
            )
            customers = as_frame(con.sql("select customer_id, timezone from staging.stg_crm__customers"))
            customers["segment"] = "engaged"
            hours = preferred_send_hours(con, AS_OF, customers)
            write_send_hours(con, hours, AS_OF)
            t2 = time.perf_counter()
            print(
                f"preferred send hours: {len(hours):,} users in {t2 - t1:.1f} s; "
                f"peak RSS so far {peak_rss_gib():.2f} GiB",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--events-per-user", type=int, default=30)
    parser.add_argument("--train-users", type=int, default=10_000)
    parser.add_argument("--extras", action="store_true", help="also time clusters and send hours")
    parser.add_argument(
        "--work-dir", type=Path, default=None, help="keep (and reuse) the generated warehouses and model here"
    )
    parser.add_argument("--threads", type=int, default=None, help="OpenMP threads for prediction")
    parser.add_argument("--child", nargs=2, metavar=("DB", "MODEL_DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        score_child(Path(args.child[0]), Path(args.child[1]), args.extras, args.threads)
        return

    from reengage.learning import registry
    from reengage.learning.churn import TrainingConfig, train

    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = args.work_dir or Path(tmp)
        tmp_path.mkdir(parents=True, exist_ok=True)
        if (tmp_path / "score.duckdb").exists() and registry.current_version(tmp_path / "models"):
            print(f"reusing the warehouse and model in {tmp_path}", flush=True)
            run_child(tmp_path, args.extras, args.threads)
            return
        started = time.perf_counter()
        generate(tmp_path / "train.duckdb", args.train_users, args.events_per_user)
        with duckdb.connect(str(tmp_path / "train.duckdb"), read_only=True) as con:
            model = train(con, AS_OF, TrainingConfig(max_snapshots=4))
        registry.save(model, tmp_path / "models")
        registry.set_current(tmp_path / "models", model.model_version)
        print(
            f"trained {model.model_version} on {model.metrics['n_train']:,} rows "
            f"in {time.perf_counter() - started:.1f} s (holdout ROC-AUC {model.metrics['roc_auc']:.4f})",
            flush=True,
        )

        started = time.perf_counter()
        generate(tmp_path / "score.duckdb", args.users, args.events_per_user)
        print(
            f"generated {args.users:,} users, {args.users * args.events_per_user:,} events "
            f"in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
        run_child(tmp_path, args.extras, args.threads)


def run_child(work: Path, extras: bool, threads: int | None) -> None:
    command = [sys.executable, __file__, "--child", str(work / "score.duckdb"), str(work / "models")]
    if extras:
        command.append("--extras")
    if threads:
        command += ["--threads", str(threads)]
    subprocess.run(command, check=True)


if __name__ == "__main__":
    main()
