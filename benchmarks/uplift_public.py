"""Public randomized data check: the uplift learner and its evaluation on the Hillstrom e-mail experiment.

    .venv/bin/python benchmarks/uplift_public.py --csv PATH [--outcome visit|conversion|both]

The MineThatData e-mail experiment (Kevin Hillstrom, 2008): 64,000 customers who bought in
the last twelve months, randomly split in thirds: a men's e-mail, a women's e-mail, or no
e-mail; visits, conversions and spend were tracked for the two weeks after. The file is not
part of the repository; pass a copy of it (columns recency, history_segment, history, mens,
womens, zip_code, newbie, channel, segment, visit, conversion, spend).

Mapping: treated = any e-mail (segment is not "No E-Mail"), propensity = 2/3 as assigned,
outcome = visit or conversion in the two weeks. Features: recency, history, mens, womens,
zip_code, newbie, channel (history_segment only bins history). There is no decision day, so
the evaluation rows are a seeded random share (`--holdout-share`, default 0.3). Prints, per
outcome, what `python -m reengage.learning.uplift evaluate` prints, plus wall time and peak memory.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from reengage.learning.uplift.evaluate_cli import read_table, report  # noqa: E402
from reengage.learning.uplift.learner import LearnerConfig, UpliftInputError, require_columns  # noqa: E402
from reengage.learning.uplift.training import UpliftConfig, train_and_evaluate  # noqa: E402

FEATURES = ("recency", "history", "mens", "womens", "zip_code", "newbie", "channel")
NO_EMAIL = "No E-Mail"
ASSIGNED_SHARE = 2 / 3  # two of the three arms send an e-mail


def decisions(raw: pd.DataFrame, source: str) -> pd.DataFrame:
    """The experiment as logged decisions: features, treated, propensity and both outcomes."""
    require_columns(raw, [*FEATURES, "segment", "visit", "conversion"], source)
    arms = set(raw["segment"].unique())
    if NO_EMAIL not in arms or len(arms) != 3:
        raise UpliftInputError(
            f"{source}: column 'segment' should hold three arms with {NO_EMAIL!r}, has {arms}"
        )
    table = raw[list(FEATURES)].copy()
    table["treated"] = (raw["segment"] != NO_EMAIL).astype("int64")
    table["propensity"] = ASSIGNED_SHARE
    table["visit"] = raw["visit"]
    table["conversion"] = raw["conversion"]
    return table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", type=Path, required=True, help="the Hillstrom experiment file")
    parser.add_argument("--outcome", choices=("visit", "conversion", "both"), default="both")
    parser.add_argument("--holdout-share", type=float, default=0.3)
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int)
    args = parser.parse_args()
    try:
        table = decisions(read_table(args.csv), str(args.csv))
    except (OSError, UpliftInputError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    by_arm = table.groupby("treated")[["visit", "conversion"]].mean()
    print(f"{args.csv}: {len(table):,} customers, {int(table['treated'].sum()):,} e-mailed")
    print(f"visit rate {by_arm['visit'][0]:.4f} without e-mail, {by_arm['visit'][1]:.4f} with")
    print(f"conversion rate {by_arm['conversion'][0]:.4f} without e-mail, {by_arm['conversion'][1]:.4f} with")
    for outcome in ("visit", "conversion") if args.outcome == "both" else (args.outcome,):
        config = UpliftConfig(
            campaign_id="hillstrom",
            target=f"{outcome} within two weeks",
            treatment_column="treated",
            outcome_column=outcome,
            propensity_column="propensity",
            day_column=None,
            features=FEATURES,
            holdout_share=args.holdout_share,
            bootstrap=args.bootstrap,
            learner=LearnerConfig(seed=args.seed, n_threads=args.threads),
        )
        started = time.perf_counter()
        model = train_and_evaluate(
            table.drop(columns=[{"visit": "conversion", "conversion": "visit"}[outcome]]), config
        )
        seconds = time.perf_counter() - started
        print(f"\n== outcome: {outcome} ==")
        print(report(model))
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"train + evaluate: {seconds:.1f} s wall, peak RSS {peak_mib:.0f} MiB so far")
    return 0


if __name__ == "__main__":
    sys.exit(main())
