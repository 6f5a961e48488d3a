"""Benchmark: gradient-boosting fits in processes side by side, OpenMP's waiting threads spinning or asleep.

    .venv/bin/python benchmarks/model_fits_side_by_side.py [--processes 2] [--fits 4] [--rows 24000]
        [--repeats 3]

The product's models (churn, uplift, the outcome models of judging) are scikit-learn's
HistGradientBoosting, whose OpenMP threads spin while they wait unless OMP_WAIT_POLICY says
otherwise. `reengage` sets PASSIVE (reengage/__init__.py). This starts --processes processes at
once, each fitting --fits classifiers on --rows rows of 30 features (a campaign's decisions are
of that order), first with libgomp's default wait policy and then with PASSIVE, and prints each
repeat's slowest process and the median over repeats, with the load average: the figures depend
on what else the machine is doing, which is the point. The same processes one at a time give the
figure without neighbours.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

FIT = """
import sys, time
import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
fits, rows = int(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(0)
X = rng.normal(size=(rows, 30))
y = (X[:, 0] + rng.normal(size=rows) > 0).astype(int)
started = time.perf_counter()
for seed in range(fits):
    HistGradientBoostingClassifier(random_state=seed).fit(X, y)
print(time.perf_counter() - started)
"""
POLICIES = {"default (spinning)": None, "PASSIVE (asleep)": "PASSIVE"}


def slowest(processes: int, policy: str | None, fits: int, rows: int) -> float:
    """Seconds of the slowest of `processes` processes started together."""
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if policy is not None:
        env["OMP_WAIT_POLICY"] = policy
    children = [
        subprocess.Popen(
            [sys.executable, "-c", FIT, str(fits), str(rows)], env=env, stdout=subprocess.PIPE, text=True
        )
        for _ in range(processes)
    ]
    return max(float(child.communicate()[0]) for child in children)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--fits", type=int, default=4)
    parser.add_argument("--rows", type=int, default=24_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(
        f"{args.processes} processes at once, {args.fits} fits of {args.rows:,} rows each; "
        f"{os.cpu_count()} cores"
    )
    for label, policy in POLICIES.items():
        for processes in (1, args.processes):
            times = []
            for repeat in range(args.repeats):
                times.append(slowest(processes, policy, args.fits, args.rows))
                load = os.getloadavg()[0]
                print(
                    f"  {label:<20} {processes} at once, repeat {repeat + 1}: {times[-1]:7.1f} s "
                    f"(load {load:.1f})"
                )
            print(f"{label:<22} {processes} at once: median {statistics.median(times):7.1f} s")
    print(f"Finished at {time.strftime('%H:%M:%S')}")


if __name__ == "__main__":
    main()
