"""The truth check: does the pipeline's measured lift cover the world's true lift, over many seeds?

    .venv/bin/python benchmarks/truth_check.py                      # 20 seeds, 2,000 customers, 21 days
    .venv/bin/python benchmarks/truth_check.py --seeds 30 --customers 20000 --out truth.csv

For each seed: a fresh responding demo world (its own folder), its history loaded, then the
real daily job for every sending day exactly as ``python3 dev.py demo`` runs it (the world
answering each day's mail before the next day's exports). After the last day the demo's closing
table is built (``reengage_dev.demo.scoreboard``): per campaign and comparison, the measured
conversion lift with its 95% interval and the sequential verdict, beside the true lift the world
computes for the same matured users. Each seed's rows are appended to --out as soon as it
finishes, so an interrupted run keeps what it measured and a rerun with the same --out skips the
seeds already there.

Prints, over every (campaign, comparison, seed) with matured users on both sides:

- coverage: the share whose 95% interval holds the true lift (target 90-99%), overall and per
  comparison; the sequential confidence sequence's coverage beside it;
- false winners: the share of seeds in which a campaign whose true effect is zero for everyone
  (``--null-campaign``, the default world's browse_abandonment) was declared a winner or worse
  by the sequential rule (target at most 5%).

The world size is a choice of time: the daily job's fixed costs dominate a small world, so
seeds are cheaper than customers. Say which size the figures were measured at.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from reengage.defs.measurement.analysis import WINNER, WORSE  # noqa: E402
from reengage.privacy.keys import PEPPER_ENV  # noqa: E402
from reengage.tables import as_frame  # noqa: E402
from reengage_dev.demo import DEMO_PEPPER  # noqa: E402

KEEP = [
    "seed",
    "campaign_id",
    "comparison",
    "variant",
    "baseline",
    "n_variant",
    "n_baseline",
    "abs_lift",
    "abs_ci_low",
    "abs_ci_high",
    "seq_ci_low",
    "seq_ci_high",
    "decision",
    "true_lift",
]


def run_seed(seed: int, args: argparse.Namespace, home: Path) -> pd.DataFrame:
    """One world through the real daily job; its closing table's rows (empty when a day failed)."""
    from reengage import settings
    from reengage.defs.interventions.campaigns import load_campaigns
    from reengage.defs.measurement.config import MeasurementConfig
    from reengage.warehouse import connect
    from reengage_dev.demo.loop import DemoConfig, simulate
    from reengage_dev.demo.scoreboard import build_scoreboard

    os.environ["REENGAGE_HOME"] = str(home)
    config = DemoConfig(
        customers=args.customers,
        history_days=args.history_days,
        sending_days=args.sending_days,
        seed=seed,
        world=args.world,
        last_day=args.last_day,
        history_checks=False,  # the raw gates on history days change no measurement
    )
    run = simulate(config, say=lambda line: None)
    if run.failed:
        print(f"  seed {seed} failed: {run.failed[0]} (log {run.log_path})", flush=True)
        return pd.DataFrame(columns=KEEP)
    campaigns = [c.id for c in load_campaigns(settings.campaigns_dir())]
    with connect(read_only=True) as con:
        board, _ = build_scoreboard(con, run.world, run.last_day, campaigns, MeasurementConfig().min_per_arm)
        sequential = as_frame(
            con.execute(
                "select campaign_id, comparison, variant, seq_ci_low, seq_ci_high "
                "from measurement.campaign_comparisons where run_date = ? and metric = 'conversion'",
                [run.last_day],
            )
        )
    rows = board.rows.merge(sequential, on=["campaign_id", "comparison", "variant"], how="left")
    rows["seed"] = seed
    rows["job_seconds_median"] = statistics.median(run.job_seconds)
    return rows[[*KEEP, "job_seconds_median"]]


def summarize(rows: pd.DataFrame, null_campaign: str) -> list[str]:
    """Coverage and false-winner lines over every seed's closing table."""
    judged = rows[(rows["n_variant"] > 0) & (rows["n_baseline"] > 0)].copy()
    judged = judged[np.isfinite(judged[["abs_ci_low", "abs_ci_high", "true_lift"]]).all(axis=1)]
    judged["covered"] = (judged["abs_ci_low"] <= judged["true_lift"]) & (
        judged["true_lift"] <= judged["abs_ci_high"]
    )
    with_seq = judged[np.isfinite(judged[["seq_ci_low", "seq_ci_high"]]).all(axis=1)]
    seq_covered = (with_seq["seq_ci_low"] <= with_seq["true_lift"]) & (
        with_seq["true_lift"] <= with_seq["seq_ci_high"]
    )
    seeds = rows["seed"].nunique()
    lines = [
        f"seeds: {seeds}; comparisons with matured users on both sides: {len(judged):,}",
        f"95% interval covers the true lift: {judged['covered'].mean():.1%} "
        f"({int(judged['covered'].sum())} of {len(judged)}; target 90-99%)",
        f"sequential confidence sequence covers it: {seq_covered.mean():.1%} ({len(with_seq)} judged)",
        "",
        "per comparison: seeds judged, coverage, mean true lift (pp), mean measured lift (pp), verdicts",
    ]
    for (campaign, comparison, variant), g in judged.groupby(["campaign_id", "comparison", "variant"]):
        verdicts = ", ".join(f"{k} {v}" for k, v in g["decision"].value_counts().items())
        lines.append(
            f"  {campaign} {variant} ({comparison}): {len(g)}, {g['covered'].mean():.0%}, "
            f"{g['true_lift'].mean() * 100:+.2f}, {g['abs_lift'].mean() * 100:+.2f}; {verdicts}"
        )
    null = rows[rows["campaign_id"] == null_campaign]
    if len(null):
        declared = null.groupby("seed")["decision"].apply(lambda d: bool(d.isin([WINNER, WORSE]).any()))
        lines += [
            "",
            f"{null_campaign} (true effect zero): a sequential winner or loser declared in "
            f"{int(declared.sum())} of {len(declared)} seeds ({declared.mean():.1%}; target at most 5%)",
        ]
    else:
        lines += ["", f"{null_campaign}: no comparisons in any seed"]
    if "job_seconds_median" in rows:
        per_seed = rows.groupby("seed")["job_seconds_median"].first()
        lines.append(
            f"daily job per sending day, median over seeds of each seed's median: {per_seed.median():.1f} s"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--customers", type=int, default=2_000)
    parser.add_argument("--history-days", type=int, default=35)
    parser.add_argument("--sending-days", type=int, default=21)
    parser.add_argument("--last-day", type=date.fromisoformat, default=date(2025, 6, 30))
    parser.add_argument(
        "--world", type=Path, default=None, help="a world specification (default: the demo's)"
    )
    parser.add_argument("--null-campaign", default="browse_abandonment")
    parser.add_argument("--out", type=Path, default=Path("truth_check.csv"), help="rows per seed (appended)")
    parser.add_argument("--summarize-only", action="store_true", help="print the figures of --out and stop")
    args = parser.parse_args()

    os.environ.setdefault(PEPPER_ENV, DEMO_PEPPER)  # generated people only
    done = pd.read_csv(args.out) if args.out.exists() else pd.DataFrame(columns=KEEP)
    if not args.summarize_only:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            if seed in set(done["seed"]):
                continue
            home = Path(tempfile.mkdtemp(prefix=f"truth_check_{seed}_"))
            started = time.perf_counter()
            try:
                rows = run_seed(seed, args, home)
            finally:
                shutil.rmtree(home, ignore_errors=True)
            rows.to_csv(args.out, mode="a", header=not args.out.exists(), index=False)
            done = pd.concat([done, rows], ignore_index=True) if len(done) else rows
            print(
                f"seed {seed}: {len(rows)} comparisons in {time.perf_counter() - started:.0f} s", flush=True
            )
    print(
        f"World: {args.customers:,} customers, {args.history_days} days of history, "
        f"{args.sending_days} sending days to {args.last_day}; rows in {args.out}"
    )
    print("\n".join(summarize(done, args.null_campaign)))


if __name__ == "__main__":
    main()
