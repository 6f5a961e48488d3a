"""`evaluate TABLE ...`: train the uplift learner on a CSV or Parquet file of logged decisions,
judge it on the latest days (or a random share) and print Qini, AUUC, the decile calibration
and the promotion verdict; exits 1 with a message naming the file, column and rows when the
table cannot be used."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from reengage.learning.churn import TrainingError
from reengage.learning.features import LeakageError
from reengage.learning.uplift.evaluation import Interval, promotion_verdict
from reengage.learning.uplift.learner import LearnerConfig
from reengage.learning.uplift.table_file import read_table
from reengage.learning.uplift.training import TrainedUplift, UpliftConfig, train_and_evaluate


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="train on earlier decisions and evaluate on the latest ones",
        description=__doc__,
    )
    parser.add_argument("table", type=Path, help="CSV or Parquet file, one row per logged decision")
    parser.add_argument("--treatment", required=True, help="column: 1 treated (sent), 0 held out")
    parser.add_argument("--outcome", required=True, help="column: the target outcome (0/1 or a number)")
    parser.add_argument("--propensity", required=True, help="column: logged probability of treatment")
    parser.add_argument(
        "--control",
        help="column: 1 when a draw held the row back for good (with --control-propensity; default: "
        "every row not treated), where a row not sent may be sent later inside its window",
    )
    parser.add_argument("--control-propensity", help="column: logged probability of being held back for good")
    parser.add_argument("--day", help="column: decision day (without it, a random share is evaluated)")
    parser.add_argument("--features", help="comma-separated feature columns (default: every other column)")
    parser.add_argument("--feature-ts", help="column: latest event each row's features read (leakage guard)")
    parser.add_argument("--cluster", help="column grouping one user's rows, e.g. the user id")
    split = parser.add_mutually_exclusive_group()
    split.add_argument("--holdout-days", type=int, help="evaluate on the latest N decision days")
    split.add_argument(
        "--holdout-share", type=float, help="evaluate on the latest days (or rows) holding this share"
    )
    parser.add_argument(
        "--gap-days", type=int, default=0, help="days left out between training and evaluation"
    )
    parser.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for the intervals")
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the learner, the split and the bootstrap"
    )
    parser.add_argument("--threads", type=int, help="threads for fitting (default: all cores)")
    parser.set_defaults(run=run)


def run(arguments: argparse.Namespace) -> int:
    try:
        model = _train(arguments)
    except (OSError, ValueError, LeakageError, TrainingError) as error:
        # Bad input is expected here: one line naming the file, column and rows, no traceback.
        print(f"FAILED: {error}", file=sys.stderr)
        return 1
    print(report(model))
    return 0


def _train(arguments: argparse.Namespace) -> TrainedUplift:
    table = read_table(arguments.table)
    features = (
        tuple(c.strip() for c in arguments.features.split(",") if c.strip()) if arguments.features else None
    )
    config = UpliftConfig(
        treatment_column=arguments.treatment,
        outcome_column=arguments.outcome,
        propensity_column=arguments.propensity,
        control_column=arguments.control,
        control_propensity_column=arguments.control_propensity,
        day_column=arguments.day,
        features=features,
        feature_ts_column=arguments.feature_ts,
        cluster_column=arguments.cluster,
        holdout_days=arguments.holdout_days,
        holdout_share=arguments.holdout_share,
        gap_days=arguments.gap_days,
        bootstrap=arguments.bootstrap,
        learner=LearnerConfig(seed=arguments.seed, n_threads=arguments.threads),
    )
    return train_and_evaluate(table, config, source=str(arguments.table))


def report(model: TrainedUplift) -> str:
    """What was learned from what, the figures with intervals, the deciles and the verdict, as text."""
    evaluation = model.evaluation
    level = f"{evaluation.confidence:.0%}"
    counts = model.row_counts

    def arms(part: str) -> str:
        c = counts[part]
        return (
            f"{c['rows']:,} rows ({c['treated']:,} treated, {c['treated_outcomes']:,} with the outcome; "
            f"{c['holdout']:,} holdout, {c['holdout_outcomes']:,} with the outcome)"
        )

    def days(span: tuple[date, ...]) -> str:
        return f"{span[0]} to {span[-1]} ({len(span)} days)" if span else "a random share of rows"

    def figure(name: str, interval: Interval) -> str:
        estimate, low, high = interval.estimate, interval.low, interval.high
        return f"{name:<17}{estimate: .5f}   {level} interval {low: .5f} to {high: .5f}"

    deciles = evaluation.calibration.to_string(index=False, float_format=lambda v: f"{v: .4f}")
    promoted, reason = promotion_verdict(evaluation)
    return "\n".join(
        [
            f"model {model.model_version}  target {model.target}",
            f"features: {', '.join(model.features)}",
            f"training:   {days(model.training_days)}: {arms('training')}",
            f"evaluation: {days(model.evaluation_days)}: {arms('evaluation')}",
            "",
            f"per user of the evaluated population; {evaluation.bootstrap_resamples} bootstrap resamples",
            figure("Qini coefficient", evaluation.qini),
            figure("AUUC", evaluation.auuc),
            figure("average effect", evaluation.average_effect),
            "",
            "calibration by decile of predicted uplift (1 = highest):",
            deciles,
            "",
            f"promotion: {'PROMOTE' if promoted else 'DO NOT PROMOTE'}: {reason}",
        ]
    )
