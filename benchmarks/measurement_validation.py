"""Truth check of the measurement statistics on the demo world, whose response propensities are known.

    .venv/bin/python benchmarks/measurement_validation.py [--truth PATH] [--replicates 1000]

Each replicate draws a campaign population from the demo truth table
($REENGAGE_HOME/truth/user_truth.parquet; a small world is generated if it is missing),
splits it into treatment and holdout, and draws every user's conversion from their own
true rate (treated_conversion_rate when sent, baseline_conversion_rate when held out)
and revenue from a gamma order value. The true lift is the population mean difference
of those rates, so every replicate's interval can be scored against it.

1. Coverage: share of replicates whose 95% interval contains the true lift (absolute and
   relative conversion lift, revenue per user, and the always-valid confidence sequence).
   Must be within 93% to 97% (the sequence is conservative by design: >= 95%).
2. Daily peeking: a null campaign (both arms at the baseline rate) accrues users for 28
   days and is looked at every day. The mSPRT rule (declare at the first look with an
   always-valid p <= 0.05) must keep its false-positive rate at or below 5%; stopping at
   the first daily look where the fixed-horizon z-test has p < 0.05 inflates it.
3. Power: how often, and how soon, the sequential rule finds the real campaign's lift.

Exit code 1 when a check fails. The same functions as the pipeline are used
(`reengage.defs.measurement.stats`); nothing is read from the warehouse.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from reengage import settings
from reengage.defs.measurement import stats as st

ALPHA = 0.05
MIN_PER_ARM = 100  # MeasurementConfig.min_per_arm
TAU = 0.02  # MeasurementConfig.msprt_tau


def load_truth(path: Path | None) -> tuple[pd.DataFrame, str]:
    path = path or settings.truth_path()
    if path.exists():
        return pd.read_parquet(path), str(path)
    from reengage_dev.demo.world import generate_world

    home = Path(tempfile.mkdtemp(prefix="measurement_validation_"))
    generate_world(home, customers=5_000, days=60, end_date=date(2026, 1, 31), seed=7)
    generated = home / "truth" / "user_truth.parquet"
    return pd.read_parquet(generated), f"{generated} (generated: no truth at {path})"


def wilson(k: int, n: int) -> str:
    lo, hi = st.wilson_interval(k, n)
    return f"{100 * k / n:5.1f}% (95% CI {100 * lo:.1f}-{100 * hi:.1f}%)"


def coverage(truth: pd.DataFrame, replicates: int, n: int, holdout: float, rng: np.random.Generator) -> dict:
    base = truth["baseline_conversion_rate"].to_numpy()
    treat = truth["treated_conversion_rate"].to_numpy()
    mean_value = 60.0  # gamma(2, 30) order value, independent of the arm
    true_abs = float(treat.mean() - base.mean())
    true_rel = float(treat.mean() / base.mean() - 1)
    true_rev = true_abs * mean_value
    hits = {"abs": 0, "rel": 0, "revenue": 0, "sequence": 0}
    widths = []
    for _ in range(replicates):
        idx = rng.integers(0, len(truth), n)
        held = rng.random(n) < holdout
        rate = np.where(held, base[idx], treat[idx])
        converted = rng.random(n) < rate
        revenue = np.where(converted, rng.gamma(2.0, 30.0, n), 0.0)
        x_a, n_a = int(converted[held].sum()), int(held.sum())
        x_b, n_b = int(converted[~held].sum()), int((~held).sum())
        t = st.two_proportion_test(x_a, n_a, x_b, n_b, alpha=ALPHA)
        hits["abs"] += t.abs_ci_low <= true_abs <= t.abs_ci_high
        hits["rel"] += t.rel_ci_low <= true_rel <= t.rel_ci_high
        w = st.welch_test(revenue[held], revenue[~held], alpha=ALPHA)
        hits["revenue"] += w.ci_low <= true_rev <= w.ci_high
        m = st.msprt(x_a, n_a, x_b, n_b, tau=TAU, alpha=ALPHA)
        hits["sequence"] += m.cs_low <= true_abs <= m.cs_high
        widths.append(t.abs_ci_high - t.abs_ci_low)
    return {
        "true_abs": true_abs,
        "true_rel": true_rel,
        "true_rev": true_rev,
        "hits": hits,
        "mean_width": float(np.mean(widths)),
    }


def peeking(
    base_rate: np.ndarray, lift_rate: np.ndarray | None, replicates: int, per_day: int, days: int,
    holdout: float, rng: np.random.Generator,
) -> dict:  # fmt: skip
    """Daily looks at cumulative counts; returns rejection counts of each rule."""
    naive = sequential = final_only = 0
    decision_days = []
    for _ in range(replicates):
        idx = rng.integers(0, len(base_rate), (days, per_day))
        held = rng.random((days, per_day)) < holdout
        rates = np.where(held, base_rate[idx], (lift_rate if lift_rate is not None else base_rate)[idx])
        conv = rng.random((days, per_day)) < rates
        x_a = np.cumsum((conv & held).sum(axis=1))
        n_a = np.cumsum(held.sum(axis=1))
        x_b = np.cumsum((conv & ~held).sum(axis=1))
        n_b = np.cumsum((~held).sum(axis=1))
        naive_hit = seq_hit = False
        for d in range(days):
            if n_a[d] < MIN_PER_ARM or n_b[d] < MIN_PER_ARM:
                continue
            if not naive_hit and st.two_proportion_test(x_a[d], n_a[d], x_b[d], n_b[d]).p_value < ALPHA:
                naive_hit = True
            if (
                not seq_hit
                and st.msprt(x_a[d], n_a[d], x_b[d], n_b[d], tau=TAU, alpha=ALPHA).p_value <= ALPHA
            ):
                seq_hit = True
                decision_days.append(d + 1)
        final_only += st.two_proportion_test(x_a[-1], n_a[-1], x_b[-1], n_b[-1]).p_value < ALPHA
        naive += naive_hit
        sequential += seq_hit
    return {
        "naive": naive,
        "sequential": sequential,
        "final_only": int(final_only),
        "median_day": float(np.median(decision_days)) if decision_days else math.nan,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--truth", type=Path, default=None)
    parser.add_argument("--replicates", type=int, default=1_000, help="coverage replicates (>= 200)")
    parser.add_argument("--null-replicates", type=int, default=1_000, help="daily-peeking replicates")
    parser.add_argument("--users", type=int, default=20_000, help="campaign population per replicate")
    parser.add_argument("--holdout-share", type=float, default=0.1)
    parser.add_argument("--per-day", type=int, default=400, help="users assigned per day (peeking)")
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args(argv)
    if args.replicates < 200:
        parser.error("--replicates must be at least 200")
    started = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    truth, source = load_truth(args.truth)
    print(f"Truth: {source}: {len(truth):,} customers")
    print(
        f"  mean baseline conversion {truth['baseline_conversion_rate'].mean():.4f}, "
        f"treated {truth['treated_conversion_rate'].mean():.4f}"
    )
    failures = []

    c = coverage(truth, args.replicates, args.users, args.holdout_share, rng)
    r = args.replicates
    print(
        f"\n1. Coverage of the true lift by 95% intervals: {r} replicates of {args.users:,} users, "
        f"holdout {args.holdout_share:.0%}"
    )
    print(f"   true lift: {100 * c['true_abs']:+.3f} pts absolute, {100 * c['true_rel']:+.1f}% relative, "
          f"{c['true_rev']:+.3f} revenue per user; "
          f"mean CI width {100 * c['mean_width']:.2f} pts")  # fmt: skip
    for key, label, lo, hi in (
        ("abs", "absolute lift (Wald z)        ", 0.93, 0.97),
        ("rel", "relative lift (log ratio)     ", 0.93, 0.97),
        ("revenue", "revenue per user (Welch t)    ", 0.93, 0.97),
        ("sequence", "always-valid sequence (mSPRT) ", 0.95, 1.0),
    ):
        share = c["hits"][key] / r
        ok = lo <= share <= hi
        print(f"   {label} {wilson(c['hits'][key], r)}  target {lo:.0%}-{hi:.0%}  {'ok' if ok else 'FAIL'}")
        if not ok:
            failures.append(f"coverage {key} {share:.3f}")

    base = truth["baseline_conversion_rate"].to_numpy()
    treat = truth["treated_conversion_rate"].to_numpy()
    nr = args.null_replicates
    print(
        f"\n2. Null campaign looked at daily: {nr} replicates, "
        f"{args.per_day} users/day for {args.days} days, "
        f"holdout {args.holdout_share:.0%}, both arms at the baseline rates"
    )
    p = peeking(base, None, nr, args.per_day, args.days, args.holdout_share, rng)
    limit = 0.05 + 1.96 * math.sqrt(0.05 * 0.95 / nr)  # nominal, allowing for simulation error
    seq_ok = p["sequential"] / nr <= limit
    print(f"   sequential rule (mSPRT, daily looks)      {wilson(p['sequential'], nr)}  "
          f"nominal 5% (<= {100 * limit:.1f}% allowing simulation error)  "
          f"{'ok' if seq_ok else 'FAIL'}")  # fmt: skip
    print(f"   naive: stop at first z-test p < 0.05      {wilson(p['naive'], nr)}  (inflated by peeking)")
    print(f"   one look at the end only (z-test)         {wilson(p['final_only'], nr)}")
    if not seq_ok:
        failures.append(f"sequential false-positive rate {p['sequential'] / nr:.3f}")
    if p["naive"] <= p["sequential"]:
        failures.append("naive peeking did not inflate the false-positive rate")

    q = peeking(base, treat, max(nr // 4, 200), args.per_day, args.days, args.holdout_share, rng)
    nq = max(nr // 4, 200)
    print(f"\n3. Real campaign (true lift {100 * c['true_abs']:+.2f} pts) looked at daily: {nq} replicates")
    print(f"   sequential rule finds it in {wilson(q['sequential'], nq)} of runs, "
          f"median on day {q['median_day']:.0f} of {args.days}")  # fmt: skip
    plan = st.holdout_plan(args.per_day, args.holdout_share, float(base.mean()), args.days)
    print(f"   planner: fixed-horizon MDE after {args.days} days = {100 * plan['mde_abs']:.2f} pts "
          f"({100 * plan['mde_rel']:.0f}% relative) at 80% power")  # fmt: skip

    print(f"\n{'All checks passed' if not failures else 'FAILED: ' + '; '.join(failures)} "
          f"in {time.perf_counter() - started:.1f}s")  # fmt: skip
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
