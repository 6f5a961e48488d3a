"""`policy-value TABLE ...`: judge candidate policies on a table of logged decisions (CSV or Parquet).

Prints one row per policy and estimator (value, incremental per 1,000 decisions and in total, each
with its 95% interval, the share of decisions the policy treats and the shares off support) and the
caveats under the table; exits 1 with a message naming the file and the
column when the table cannot be used.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from reengage.learning.uplift.outcome_models import cross_fitted_outcome_models
from reengage.learning.uplift.policy_value import (
    DecisionLog,
    IntervalConfig,
    PolicyLogError,
    comparison_table,
    estimate_policies,
)
from reengage.learning.uplift.table_file import TableFileError, read_table


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `policy-value`; the parsed arguments carry `run`, the function that carries it out."""
    command = subparsers.add_parser(
        "policy-value",
        help="estimate what candidate targeting policies would have achieved, from logged decisions",
        description="Inverse-propensity (IPS, SNIPS) and doubly robust estimates of each policy's value "
        "and incremental value against sending nobody, with 95%% intervals (reengage/learning/README.md).",
    )
    command.add_argument("table", help="a CSV or Parquet file, one row per logged decision")
    command.add_argument("--treatment", required=True, help="column: 1 if the row was treated (sent), else 0")
    command.add_argument(
        "--outcome", required=True, help="column: the outcome (conversion 0/1, revenue, ...)"
    )
    command.add_argument("--propensity", required=True, help="column: the probability the row was treated")
    command.add_argument(
        "--policy",
        required=True,
        action="append",
        metavar="NAME=COLUMN",
        help="a candidate policy and the column of its per-row probability of treating (repeatable)",
    )
    command.add_argument(
        "--control",
        help="column: 1 when a draw held the row back for good (with --control-propensity; default: "
        "every row not treated), where a row not sent may be sent later inside its window",
    )
    command.add_argument(
        "--control-propensity", help="column: the probability the row was held back for good"
    )
    command.add_argument("--cluster", help="column grouping rows that are not independent, e.g. the user id")
    command.add_argument("--mu0", help="column: an outcome model's prediction if not treated (with --mu1)")
    command.add_argument("--mu1", help="column: an outcome model's prediction if treated (with --mu0)")
    command.add_argument(
        "--features", help="comma-separated feature columns to fit cross-fitted outcome models on"
    )
    command.add_argument(
        "--bootstrap", type=int, default=0, metavar="N", help="N resamples for the intervals (default: CLT)"
    )
    command.add_argument("--seed", type=int, default=0, help="seed of the bootstrap and the outcome models")
    command.set_defaults(run=run_policy_value)


def _policies(specs: list[str], frame: pd.DataFrame) -> dict[str, object]:
    policies: dict[str, object] = {}
    for spec in specs:
        name, sep, column = spec.partition("=")
        if not sep or not name or not column:
            raise PolicyLogError(f"--policy {spec!r}: expected NAME=COLUMN")
        if column not in frame.columns:
            raise PolicyLogError(
                f"no column '{column}' (the policy '{name}'); columns are: {', '.join(map(str, frame))}"
            )
        if name in policies:
            raise PolicyLogError(f"--policy: the name '{name}' is given twice")
        policies[name] = frame[column].to_numpy()
    return policies


def _printable(table: pd.DataFrame) -> pd.DataFrame:
    """The comparison table for a terminal: each estimate beside its interval, in fewer columns."""

    def with_interval(column: str, number: str) -> pd.Series:
        def cell(row: pd.Series) -> str:
            if pd.isna(row[column]):
                return "-"
            low, high = row[f"{column}_low"], row[f"{column}_high"]
            return f"{row[column]:{number}} [{low:{number}}, {high:{number}}]"

        return table.apply(cell, axis=1)

    return pd.DataFrame(
        {
            "policy": table["policy"],
            "estimator": table["estimator"],
            "value [95% CI]": with_interval("value", ".4g"),
            "incremental per 1,000 [95% CI]": with_interval("incremental_per_1000", ".1f"),
            "incremental total [95% CI]": with_interval("incremental_total", ".1f"),
            "treats": table["treat_share"].map("{:.1%}".format),
            "off support": table["off_support_share"].map("{:.1%}".format),
            "off support (incremental)": table["off_support_share_incremental"].map("{:.1%}".format),
        }
    )


def run_policy_value(args: argparse.Namespace) -> int:
    path = Path(args.table)
    try:
        frame = read_table(path)
    except TableFileError as err:
        print(f"FAILED: {err}", file=sys.stderr)
        return 1
    try:
        policies = _policies(args.policy, frame)
        log = DecisionLog.from_frame(
            frame,
            treatment=args.treatment,
            outcome=args.outcome,
            propensity=args.propensity,
            mu0=args.mu0,
            mu1=args.mu1,
            cluster=args.cluster,
            control=args.control,
            control_propensity=args.control_propensity,
        )
        if args.features:
            if args.mu0 or args.mu1:
                raise PolicyLogError("give --features or --mu0/--mu1, not both")
            columns = [column.strip() for column in args.features.split(",") if column.strip()]
            missing = [column for column in columns if column not in frame.columns]
            if missing:
                raise PolicyLogError(f"no column {', '.join(map(repr, missing))} (--features)")
            mu0, mu1 = cross_fitted_outcome_models(
                frame[columns],
                log.treated,
                log.outcome,
                control=log.control,
                cluster=frame[args.cluster] if args.cluster else None,
                seed=args.seed,
            )
            log = log.with_outcome_models(mu0, mu1)
        intervals = (
            IntervalConfig("bootstrap", draws=args.bootstrap, seed=args.seed)
            if args.bootstrap
            else IntervalConfig()
        )
        results = estimate_policies(log, policies, intervals=intervals)
    except (PolicyLogError, ValueError, OSError) as err:
        print(f"FAILED: {path}: {err}", file=sys.stderr)
        return 1
    print(_printable(comparison_table(results)).to_string(index=False))
    for result in results.values():
        for caveat in result.caveats:
            print(f"{result.policy}: {caveat}")
    return 0
