"""Truth check: the churn model vs the recency baseline vs the true churn probability (the ceiling).

    .venv/bin/python benchmarks/churn_truth.py                       # 20,000 customers, 90 days
    .venv/bin/python benchmarks/churn_truth.py --customers 5000 --days 70 --keep /tmp/truth-home

How it works (and why it generates 14 extra days):

1. The demo generator's truth file gives P(no active action in the 14 days after
   the world's last day). To score a holdout against *realised* labels we need
   those 14 days too, so the world is generated for ``days + 14`` days; the
   holdout date H is the 90th day. The true probability at H is recomputed with
   the generator's own functions (``truth.truth_table`` over the same
   population, with the window cut at H): the population and every rate are
   identical, only the horizon's start moves. As a self-check the script first
   reproduces the shipped truth file (end of world) bit for bit.
2. Landing files are loaded with the real ingest (``loader.load_day`` per
   source per day) and the real dbt project builds staging + intermediate
   (``dbt build --full-refresh --select +int_events_stitched
   +stg_crm__customers``), i.e. the same ``int_events_stitched`` and
   ``stg_crm__customers`` the churn model reads in production.
3. ``reengage.learning.churn.train(con, H)`` trains on weekly snapshots whose labels are
   complete by H (it never reads an event after H: the leakage guard checks).
4. The holdout is the snapshot at H: features as of H, label = no active
   action in H+1..H+14 (from the 14 extra days). Model, recency baseline
   (days since last active action) and the true probability are all scored on
   exactly these rows (customers signed up by H that appear in the truth file).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from reengage.defs.ingest.loader import load_day  # noqa: E402
from reengage.learning.churn import TrainingConfig, top_decile_lift, train  # noqa: E402
from reengage.learning.features import LABEL, label_examples  # noqa: E402
from reengage_dev.demo.clock import Window  # noqa: E402
from reengage_dev.demo.population import build_population  # noqa: E402
from reengage_dev.demo.truth import CHURN_HORIZON_DAYS, truth_table  # noqa: E402
from reengage_dev.demo.world import _rng, generate_world  # noqa: E402

SOURCES = ("customers", "events")


def _log(message: str, started: float) -> None:
    print(f"[{time.perf_counter() - started:7.1f}s] {message}", flush=True)


def truth_at(
    customers: int, seed: int, world: Window, holdout_days: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """True P(churn) after day `holdout_days - 1` of `world`, and the shipped (end-of-world) truth again."""
    pop = build_population(_rng(seed, "population"), customers, world)
    shipped_check = truth_table(pop, world).to_pandas()
    cut = Window(end=world.start + timedelta(days=holdout_days - 1), days=holdout_days)
    assert cut.start == world.start
    return truth_table(pop, cut).to_pandas(), shipped_check


def dbt_project_dir(home: Path, source: str) -> Path:
    """The dbt project to build: the committed one (HEAD, via `git archive`) or the working tree.

    Other engineers edit dbt_project/ in parallel; HEAD is the last version the lead committed,
    so the benchmark does not break on someone's half-finished edit.
    """
    if source == "worktree":
        return REPO / "dbt_project"
    target = home / "dbt_head"
    if not (target / "dbt_project").is_dir():
        target.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", "HEAD", "dbt_project"], capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target / "dbt_project"


def build_warehouse(
    home: Path, summary_start: date, days: int, run_date: date, started: float, dbt_from: str
) -> Path:
    warehouse = home / "warehouse.duckdb"
    landing = str(home / "landing")
    project = dbt_project_dir(home, dbt_from)
    if warehouse.exists():
        warehouse.unlink()
    with duckdb.connect(str(warehouse)) as con:
        for k in range(days):
            day = summary_start + timedelta(days=k)
            for source in SOURCES:
                load_day(con, landing, source, day)
        counts = {
            t: con.execute(f"select count(*) from raw.{t}").fetchall()[0][0] for t in ("customers", "events")
        }
    _log(f"loaded raw tables {counts}", started)
    env = {**os.environ, "REENGAGE_WAREHOUSE": str(warehouse), "REENGAGE_HOME": str(home)}
    command = [
        str(REPO / ".venv/bin/dbt"),
        "build",
        "--project-dir",
        str(project),
        "--profiles-dir",
        str(project),
        "--exclude-resource-type",
        "unit_test",
        "--full-refresh",
        "--select",
        "+int_events_stitched +stg_crm__customers",
        "--indirect-selection",
        "cautious",
        "--target-path",
        str(home / "dbt_target"),
        "--log-path",
        str(home / "dbt_logs"),
        "--vars",
        json.dumps({"run_date": run_date.isoformat()}),
    ]
    done = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        print(done.stdout[-4000:], done.stderr[-2000:], sep="\n")
        raise SystemExit(f"dbt build failed (exit {done.returncode})")
    _log(f"dbt build (staging + intermediate, {dbt_from} dbt project) done", started)
    return warehouse


def metrics(y: np.ndarray, score: np.ndarray, *, probability: bool) -> dict[str, float]:
    out = {
        "roc_auc": roc_auc_score(y, score),
        "pr_auc": average_precision_score(y, score),
        "top_decile_lift": top_decile_lift(y, score),
    }
    out["brier"] = brier_score_loss(y, score) if probability else float("nan")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=90, help="history up to the holdout date")
    parser.add_argument("--end-date", type=date.fromisoformat, default=date(2026, 3, 31))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--keep", type=Path, default=None, help="keep the world in this folder")
    parser.add_argument(
        "--dbt-from",
        choices=("head", "worktree"),
        default="head",
        help="build the committed dbt project (default) or the working tree's",
    )
    parser.add_argument(
        "--reuse", action="store_true", help="with --keep: reuse the warehouse built by an earlier run"
    )
    args = parser.parse_args()

    started = time.perf_counter()
    total_days = args.days + CHURN_HORIZON_DAYS
    with tempfile.TemporaryDirectory() as tmp:
        home = args.keep or Path(tmp)
        home.mkdir(parents=True, exist_ok=True)
        summary = generate_world(
            home,
            customers=args.customers,
            days=total_days,
            end_date=args.end_date,
            seed=args.seed,
            replace=True,
        )
        _log(f"generated {summary.customers:,} customers, {summary.rows['events']:,} events", started)
        holdout_date = summary.start_date + timedelta(days=args.days - 1)
        world = Window(end=summary.end_date, days=total_days)

        truth, shipped_again = truth_at(args.customers, args.seed, world, args.days)
        shipped = pq.read_table(summary.truth_path).to_pandas()
        if not shipped_again.equals(shipped):
            raise SystemExit("could not reproduce the shipped truth file; the population rebuild is wrong")
        _log(f"truth reproduced; holdout date {holdout_date}", started)

        warehouse = home / "warehouse.duckdb"
        if not (args.reuse and warehouse.exists()):
            warehouse = build_warehouse(
                home, summary.start_date, total_days, summary.end_date, started, args.dbt_from
            )
        with duckdb.connect(str(warehouse), read_only=True) as con:
            model = train(con, holdout_date, TrainingConfig(n_threads=args.threads))
            _log(
                f"trained {model.model_version} on {model.metrics['n_train']:,} rows "
                f"(snapshots {[d.isoformat() for d in model.training_window.train_snapshots]}); "
                f"internal holdout {model.training_window.holdout_snapshot} "
                f"ROC-AUC {model.metrics['roc_auc']:.4f} vs baseline {model.metrics['baseline_roc_auc']:.4f}",
                started,
            )
            holdout = label_examples(con, [holdout_date], CHURN_HORIZON_DAYS)

    holdout = holdout.merge(truth[["customer_id", "true_churn_probability"]], on="customer_id", how="inner")
    y = holdout[LABEL].to_numpy()
    proba = model.predict_proba(holdout)
    rows = {
        "model": metrics(y, proba, probability=True),
        "recency baseline": metrics(y, holdout["days_since_last_active"].to_numpy(float), probability=False),
        "true probability (ceiling)": metrics(
            y, holdout["true_churn_probability"].to_numpy(float), probability=True
        ),
    }
    print()
    print(
        f"holdout {holdout_date}: {len(holdout):,} customers, churn rate {y.mean():.3f} "
        f"(mean predicted {proba.mean():.3f}, mean true {holdout['true_churn_probability'].mean():.3f})"
    )
    print(f"{'':<28} {'ROC-AUC':>8} {'PR-AUC':>8} {'Brier':>8} {'lift@10%':>9}")
    for name, m in rows.items():
        brier = "n/a" if np.isnan(m["brier"]) else f"{m['brier']:.4f}"
        print(f"{name:<28} {m['roc_auc']:8.4f} {m['pr_auc']:8.4f} {brier:>8} {m['top_decile_lift']:9.3f}")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    _log(f"done; peak RSS {peak_mb:,.0f} MB", started)


if __name__ == "__main__":
    main()
