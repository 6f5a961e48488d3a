"""The demo's closing table: what the pipeline measured per campaign and variant, beside the truth.

The measured side is read from the tables the pipeline wrote for the last
run date (``measurement.campaign_comparisons``, conversion rows: lift with
its 95% interval and the sequential decision). The true side comes from the
world: for the same matured users (``measurement.assignment_outcomes``, one
row per user and campaign, from their first assignment) the world computes
each user's true probability of converting in the attribution window of their
first assignment as assigned (that message's effect if it was delivered, an
email or a text alike, the baseline if held out; ``World.conversion_truth``), and the true lift of a
comparison is the mean over its variant's users minus the mean over its
baseline's users. Where a figure is missing the table says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from reengage.tables import as_frame
from reengage_dev.demo.responses import customer_index
from reengage_dev.demo.world import World

COMPARISON_SQL = """
select campaign_id, comparison, variant, baseline, n_baseline, n_variant, abs_lift, abs_ci_low,
       abs_ci_high, decision
from measurement.campaign_comparisons
where run_date = ? and metric = 'conversion'
order by campaign_id,
    case comparison when 'treatment_vs_holdout' then 0 when 'variant_vs_holdout' then 1 else 2 end, variant
"""
OUTCOMES_SQL = """
select send_id, customer_id, campaign_id, channel, variant, arm, scheduled_at, window_end_at, matured
from measurement.assignment_outcomes
"""
COLUMNS = ("campaign", "variant", "vs", "n variant/base", "measured lift [95% CI]", "verdict", "true lift")


@dataclass(frozen=True)
class Scoreboard:
    rows: pd.DataFrame  # one row per comparison, with measured and true lifts (fractions)
    notes: list[str]  # campaigns without a comparison, and why

    def describe(self) -> str:
        """The table, one line per comparison of a campaign that has matured users; a note for the rest."""
        seen = self.rows.groupby("campaign_id")[["n_variant", "n_baseline"]].sum().sum(axis=1)
        waiting = self.rows[self.rows["campaign_id"].map(seen) == 0].drop_duplicates("campaign_id")
        notes = [f"{r.campaign_id}: {r.missing}" for r in waiting.itertuples()]
        table = [COLUMNS]
        for r in self.rows[self.rows["campaign_id"].map(seen) > 0].itertuples():
            table.append(
                (
                    r.campaign_id,
                    r.variant,
                    r.baseline,
                    f"{r.n_variant:,}/{r.n_baseline:,}",
                    _measured(r),
                    r.verdict,
                    _pp(r.true_lift) if not np.isnan(r.true_lift) else "-",
                )
            )
        widths = [max(len(row[i]) for row in table) for i in range(len(COLUMNS))]
        lines = [
            "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in table
        ]
        return "\n".join([*lines, *notes, *self.notes])


def _pp(value: float) -> str:
    return f"{value * 100:+.1f} pp"


def _measured(r) -> str:
    if r.n_variant == 0 or r.n_baseline == 0 or np.isnan(r.abs_lift):
        return r.missing
    return f"{_pp(r.abs_lift)} [{r.abs_ci_low * 100:+.1f}, {r.abs_ci_high * 100:+.1f}]"


def _ms(values: pd.Series) -> np.ndarray:
    """Naive UTC timestamps as epoch milliseconds."""
    return pd.to_datetime(values).to_numpy(dtype="datetime64[ms]").astype(np.int64)


def true_probabilities(world: World, outcomes: pd.DataFrame) -> np.ndarray:
    """Each user's true P(convert in their window) as assigned (sent: with their first message's effect)."""
    if not len(outcomes):
        return np.zeros(0)
    who = customer_index(list(outcomes["customer_id"]), world.pop)
    _, as_assigned = world.conversion_truth(
        who,
        list(outcomes["send_id"]),
        (outcomes["arm"] == "treatment").to_numpy(),
        _ms(outcomes["scheduled_at"]),
        _ms(outcomes["window_end_at"]),
    )
    return as_assigned


def _groups(o: pd.DataFrame, row) -> tuple[pd.Series, pd.Series]:
    """(variant users, baseline users) of one comparison, as in the measurement's own split."""
    campaign = o["campaign_id"] == row.campaign_id
    treated = campaign & (o["arm"] == "treatment")
    variant = treated if row.variant == "all" else treated & (o["variant"] == row.variant)
    if row.baseline == "holdout":
        return variant, campaign & (o["arm"] == "holdout")
    return variant, treated & (o["variant"] == row.baseline)


def _why_missing(o: pd.DataFrame, campaign: str) -> str:
    mine = o[o["campaign_id"] == campaign]
    if not len(mine):
        return "nobody assigned"
    if not mine["matured"].any():
        first = pd.to_datetime(mine["window_end_at"]).min()
        return f"no user matured yet (the first attribution window closes {first:%Y-%m-%d})"
    return "no matured users on one side"


def _verdict(row, min_per_arm: int) -> str:
    if row.decision == "insufficient data" and row.n_variant and row.n_baseline:
        return f"insufficient data (needs {min_per_arm} matured per arm)"
    return str(row.decision)


def build_scoreboard(
    con: duckdb.DuckDBPyConnection, world: World, run_date: date, campaigns: list[str], min_per_arm: int
) -> tuple[Scoreboard, pd.DataFrame]:
    """The closing table for `run_date`, and the per-user truth it was computed from."""
    comparisons = as_frame(con.execute(COMPARISON_SQL, [run_date]))
    outcomes = as_frame(con.execute(OUTCOMES_SQL))
    outcomes["true_conversion_probability"] = true_probabilities(world, outcomes)
    matured = outcomes[outcomes["matured"].astype(bool)]
    true_lift, missing, verdict = [], [], []
    for row in comparisons.itertuples():
        variant, baseline = _groups(matured, row)
        p = matured["true_conversion_probability"]
        has_both = variant.any() and baseline.any()
        true_lift.append(float(p[variant].mean() - p[baseline].mean()) if has_both else float("nan"))
        missing.append(_why_missing(outcomes, row.campaign_id))
        verdict.append(_verdict(row, min_per_arm))
    rows = comparisons.assign(true_lift=true_lift, missing=missing, verdict=verdict)
    absent = [c for c in campaigns if c not in set(comparisons["campaign_id"])]
    notes = [f"{c}: {_why_missing(outcomes, c)}" for c in absent]
    return Scoreboard(rows=rows, notes=notes), outcomes


def write_truth(board: Scoreboard, outcomes: pd.DataFrame, folder: Path) -> Path:
    """``truth/lift.csv`` (the table) and ``truth/assignment_truth.parquet`` (no addresses in either)."""
    folder.mkdir(parents=True, exist_ok=True)
    keep = [
        "send_id",
        "customer_id",
        "campaign_id",
        "channel",
        "variant",
        "arm",
        "scheduled_at",
        "window_end_at",
    ]
    outcomes[[*keep, "matured", "true_conversion_probability"]].to_parquet(
        folder / "assignment_truth.parquet", index=False
    )
    path = folder / "lift.csv"
    board.rows.drop(columns=["missing"]).to_csv(path, index=False)
    return path
