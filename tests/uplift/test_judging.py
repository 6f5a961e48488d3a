"""Judging targetings before launch on a synthetic log whose true effects are known."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from reengage.learning.features import FEATURES
from reengage.learning.uplift.judging import candidate_chances, judge_targetings


def _log(n: int = 6000, seed: int = 4) -> tuple[pd.DataFrame, np.ndarray]:
    """Contenders over 12 days, logged by rules targeting (90% sent), whose effect rises with one feature."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({name: rng.integers(0, 20, n) for name in FEATURES})
    frame["plan"] = rng.choice(["free", "pro"], n)
    frame["customer_id"] = [f"c{i}" for i in rng.integers(0, n // 2, n)]
    frame["run_date"] = [date(2025, 3, 1) + timedelta(days=int(d)) for d in rng.integers(0, 12, n)]
    effect = np.where(
        frame["active_days_28d"] >= 15, 0.25, np.where(frame["active_days_28d"] < 5, -0.05, 0.0)
    )
    frame["churn_probability"] = 1 - frame["active_days_28d"] / 20  # risk ranks the helped last
    frame["propensity"] = 0.9
    frame["selection_probability"] = 1.0
    frame["treated"] = (rng.random(n) < 0.9).astype(int)
    frame["control"] = 1 - frame["treated"]  # rules targeting: every row not sent is a holdout
    frame["control_propensity"] = 0.1
    base = 0.1
    frame["converted"] = (rng.random(n) < base + effect * frame["treated"]).astype(int)
    frame["exploration"] = False
    return frame, effect


def test_the_judged_gain_of_each_targeting_covers_its_true_gain_and_ranks_uplift_first() -> None:
    # Guards the "judged before launch" promise: each candidate's doubly robust incremental
    # conversions must agree with what it truly would have brought on the same contenders, and
    # targeting by (true) uplift must come out ahead of churn risk, which here picks the harmed.
    examples, effect = _log()
    chances = candidate_chances(
        examples,
        budget_share=0.3,
        exploration_share=0.1,
        min_uplift=0.0,
        uplift=effect,
    )
    table = judge_targetings(examples, chances, n_threads=1).set_index("targeting")
    for name, chance in chances.items():
        truth = 1000 * np.mean(chance * effect)
        row = table.loc[name]
        assert row["incremental_per_1000_low"] <= truth <= row["incremental_per_1000_high"], (
            name,
            truth,
            row,
        )
    assert table.index[0] == "uplift, 30% a day"
    assert (
        table.loc["uplift, 30% a day", "incremental_per_1000_low"]
        > table.loc["churn risk, 30% a day", "incremental_per_1000_high"]
    )
    assert table.loc["as run", "sends_per_1000"] == pytest.approx(900)


def test_rows_not_drawn_today_and_sent_later_do_not_shrink_the_judged_gain() -> None:
    # Guards the comparison arm: under random targeting a row not drawn today is often sent in
    # the next days, inside today's window, so its outcome carries that later message's effect.
    # Counted as held back it would shrink every estimated gain; only the holdouts (held back for
    # good, with their own chance) may stand for "no message".
    rng = np.random.default_rng(11)
    n = 30_000
    frame = pd.DataFrame({name: rng.integers(0, 20, n) for name in FEATURES})
    frame["plan"] = rng.choice(["free", "pro"], n)
    frame["customer_id"] = [f"c{i}" for i in range(n)]
    frame["run_date"] = [date(2025, 3, 1) + timedelta(days=int(d)) for d in rng.integers(0, 12, n)]
    frame["churn_probability"] = rng.random(n)
    frame["exploration"] = True
    # Random targeting draws 30% a day; a 10% campaign holdout among them.
    drawn = rng.random(n) < 0.3
    held = drawn & (rng.random(n) < 0.1)
    frame["treated"] = (drawn & ~held).astype(int)
    frame["control"] = held.astype(int)
    frame["propensity"] = 0.3 * 0.9
    frame["control_propensity"] = 0.3 * 0.1
    frame["selection_probability"] = 0.3
    effect = np.where(frame["active_days_28d"] >= 10, 0.2, 0.05)
    sent_later = ~drawn & (rng.random(n) < 0.5)  # half the rows not drawn get a message tomorrow
    chance = 0.1 + effect * frame["treated"] + 0.6 * effect * sent_later
    frame["converted"] = (rng.random(n) < chance).astype(int)
    truth = 1000 * np.mean(frame["propensity"] * effect)

    judged = judge_targetings(frame, {"as run": frame["propensity"].to_numpy()}, n_threads=1).iloc[0]
    assert judged["incremental_per_1000_low"] <= truth <= judged["incremental_per_1000_high"], judged

    # Every row not sent taken for "no message" (as before the comparison arm was recorded).
    naive = frame.assign(control=1 - frame["treated"], control_propensity=1 - frame["propensity"])
    shrunk = judge_targetings(naive, {"as run": naive["propensity"].to_numpy()}, n_threads=1).iloc[0]
    assert shrunk["incremental_per_1000_high"] < truth, shrunk
