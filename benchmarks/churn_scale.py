"""Benchmark: churn features, labels and (optionally) training at warehouse scale. Prints figures.

Speed targets live here, not in timed tests:

    .venv/bin/python benchmarks/churn_scale.py --users 1000000 --events-per-user 30
    .venv/bin/python benchmarks/churn_scale.py --users 200000 --train
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import duckdb
from score_users import DAYS, START, generate  # same folder: run as a script

from reengage.learning.churn import TrainingConfig, train
from reengage.learning.features import label_examples, snapshot_features

# Users sign up in the first half of the window; each one's events thin out after signup,
# so later snapshots hold plenty of churners. Signup second = (u * 7919) mod half the window.


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--events-per-user", type=int, default=30)
    parser.add_argument("--snapshots", type=int, default=4)
    parser.add_argument("--train", action="store_true", help="also train (slow on small machines)")
    parser.add_argument("--threads", type=int, default=None, help="OpenMP threads for training")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.duckdb"
        started = time.perf_counter()
        generate(path, args.users, args.events_per_user)  # the same world as benchmarks/score_users.py
        con = duckdb.connect(str(path))
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
