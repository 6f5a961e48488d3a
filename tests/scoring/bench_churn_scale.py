"""Benchmark: churn features, labels and (optionally) training at warehouse scale. Prints figures.

Not collected by pytest (speed targets live here, not in timed tests):

    .venv/bin/python tests/scoring/bench_churn_scale.py --users 1000000 --events-per-user 30
    .venv/bin/python tests/scoring/bench_churn_scale.py --users 200000 --train
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb

from models.churn import TrainingConfig, train
from models.features import label_examples, snapshot_features

START = date(2024, 1, 1)
DAYS = 120

# Users sign up in the first half of the window; each one's events thin out after signup,
# so later snapshots hold plenty of churners. Signup second = (u * 7919) mod half the window.
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
    0.0 as lifetime_value, true as marketing_consent, 'UTC' as timezone, 'US' as country
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--events-per-user", type=int, default=30)
    parser.add_argument("--snapshots", type=int, default=4)
    parser.add_argument("--train", action="store_true", help="also train (slow on small machines)")
    parser.add_argument("--threads", type=int, default=None, help="OpenMP threads for training")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        con = duckdb.connect(str(Path(tmp) / "bench.duckdb"))
        started = time.perf_counter()
        con.execute(
            _GENERATE_SQL.format(
                start=START,
                days=DAYS,
                half=DAYS * 86400 // 2,
                users=args.users,
                events=args.users * args.events_per_user,
            )
        )
        print(
            f"generated {args.users:,} users, {args.users * args.events_per_user:,} events "
            f"in {time.perf_counter() - started:.1f}s"
        )

        as_of = START + timedelta(days=DAYS - 1)
        started = time.perf_counter()
        frame = snapshot_features(con, as_of)
        print(f"snapshot_features: {len(frame):,} rows in {time.perf_counter() - started:.1f}s")

        snapshots = [as_of - timedelta(days=14 + 7 * k) for k in range(args.snapshots)]
        started = time.perf_counter()
        examples = label_examples(con, snapshots, 14)
        print(
            f"label_examples ({args.snapshots} snapshots): {len(examples):,} rows "
            f"in {time.perf_counter() - started:.1f}s, churn rate {examples['churned'].mean():.3f}"
        )

        if args.train:
            started = time.perf_counter()
            model = train(
                con, as_of, TrainingConfig(max_snapshots=args.snapshots + 1, n_threads=args.threads)
            )
            print(
                f"train: {model.metrics['n_train']:,} rows in {time.perf_counter() - started:.1f}s; "
                f"holdout ROC-AUC {model.metrics['roc_auc']:.4f} "
                f"(recency baseline {model.metrics['baseline_roc_auc']:.4f})"
            )
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS {peak_mb:,.0f} MB")
        con.close()


if __name__ == "__main__":
    main()
