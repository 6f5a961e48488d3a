"""The user is the unit of the experiment: each enters a campaign once, at their first assignment.

A daily job assigns the same user to the same campaign on many days, and held-out users come
back more often than treated ones (they are never mailed, so no unsubscribe, bounce or pause
after a response stops them). These worlds are built row by row in real DuckDB files to show
that measurement counts users, not daily rows.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from reengage.defs.measurement.analysis import SRM_HOLD, analyse
from reengage.defs.measurement.config import MeasurementConfig
from reengage.defs.measurement.outcomes import compute_outcomes

from .measurement_world import PLANS, TARGETS, write_warehouse

FIRST_DAY = date(2025, 6, 1)


def _day(k: int) -> date:
    return FIRST_DAY + timedelta(days=k)


def _at(k: int, hour: int = 10) -> datetime:
    return datetime.combine(_day(k), time(hour))


def _assign(customer: str, k: int, arm: str, variant: str = "control", campaign: str = "win_back") -> tuple:
    """One row of interventions.intervention_list for day `k`, scheduled at 10:00 UTC."""
    send_id = f"{campaign}:{_day(k)}:{customer}"
    return (send_id, _day(k), customer, f"{customer}@example.test", campaign, variant, arm, _at(k))


def _ledger(rows: list[tuple]) -> list[tuple]:
    """The send ledger's copy: treatment rows accepted, holdout rows held."""
    return [
        (send_id, day, customer, campaign, variant, "accepted" if arm == "treatment" else "held")
        for send_id, day, customer, _email, campaign, variant, arm, _at in rows
    ]


def _outcomes(path: Path, rows: list[tuple], events: list[tuple], run_date: date):
    con = duckdb.connect(str(path))
    write_warehouse(con, rows, _ledger(rows), events=events)
    outcomes = compute_outcomes(con, run_date, TARGETS)
    con.close()
    return outcomes


def test_a_user_assigned_on_several_days_counts_once_from_their_first_assignment(tmp_path: Path) -> None:
    # Guards the unit of analysis: a held-out user re-assigned on three days used to be three
    # independent rows in every count and test.
    rows = [_assign("held", k, "holdout") for k in (0, 1, 2)] + [_assign("mailed", 0, "treatment")]
    outcomes = _outcomes(tmp_path / "w.duckdb", rows, [], _day(20))
    assert sorted(outcomes["customer_id"]) == ["held", "mailed"]
    held = outcomes.set_index("customer_id").loc["held"]
    assert held["assignments"] == 3
    assert held["send_id"] == f"win_back:{_day(0)}:held"
    assert pd.Timestamp(held["run_date"]).date() == _day(0)
    assert held["scheduled_at"] == _at(0)
    summary = analyse(outcomes, PLANS, _day(20), MeasurementConfig()).summary
    assert summary.set_index("arm").loc["holdout", "assigned"] == 1


def test_the_outcome_window_starts_at_the_first_assignment(tmp_path: Path) -> None:
    # Guards intention to treat: a later assignment neither restarts nor extends the window. Both
    # users are held out on day 0 and again on day 3 (7-day window: day 0 10:00 to day 7 10:00).
    rows = [_assign(c, k, "holdout") for c in ("early", "late") for k in (0, 3)]
    events = [
        ("early", "purchase", _at(1), 20.0),  # a day after the first assignment: converts
        ("late", "purchase", _at(9), 20.0),  # in day 3's window only: not a conversion
    ]
    outcomes = _outcomes(tmp_path / "w.duckdb", rows, events, _day(7)).set_index("customer_id")
    assert outcomes["converted"].to_dict() == {"early": True, "late": False}
    assert outcomes.loc["early", "hours_to_convert"] == pytest.approx(24.0)
    assert (outcomes["window_end_at"] == _at(7)).all()
    # matured by the end of day 7, although day 3's assignment would keep a window open to day 10
    assert outcomes["matured"].all()


def _split_world(path: Path, treated: int, held: int, treated_days: int, held_days: int):
    """`treated` and `held` users of win_back (control and bold alternate), each assigned on days
    0 .. n - 1 of their arm; the analysis as of day 30, when every window has closed."""
    rows = []
    for i in range(treated + held):
        arm, days = ("treatment", treated_days) if i < treated else ("holdout", held_days)
        rows += [_assign(f"u{i:04d}", k, arm, ("control", "bold")[i % 2]) for k in range(days)]
    return analyse(_outcomes(path, rows, [], _day(30)), PLANS, _day(30), MeasurementConfig())


def test_a_holdout_reassigned_more_often_than_the_treatment_raises_no_sample_ratio_alarm(
    tmp_path: Path,
) -> None:
    # Guards against the false alarm of the daily job: users split 80/20 as planned, but the
    # held-out are re-assigned on five days and the treated (paused after responding) on one, so
    # the rows split 800/1,000. The users' split is what the check must test.
    tables = _split_world(tmp_path / "w.duckdb", treated=800, held=200, treated_days=1, held_days=5)
    srm = tables.srm.set_index("campaign_id").loc["win_back"]
    assert not srm["mismatch"], srm.to_dict()
    assert [int(x) for x in srm["observed"].split(", ")] == [100, 400, 100, 400]
    assert SRM_HOLD not in set(tables.comparisons["decision"])


def test_a_genuine_user_level_mismatch_still_raises_the_sample_ratio_alarm(tmp_path: Path) -> None:
    # Guards the check itself: 400 treated users assigned twice and 200 held-out users once give
    # rows in the planned 80/20, but the users split 2:1, which no 20% holdout produces.
    tables = _split_world(tmp_path / "w.duckdb", treated=400, held=200, treated_days=2, held_days=1)
    srm = tables.srm.set_index("campaign_id").loc["win_back"]
    assert srm["mismatch"] and srm["p_value"] < 1e-6
    assert [int(x) for x in srm["observed"].split(", ")] == [100, 200, 100, 200]
    conversion = tables.comparisons[tables.comparisons["metric"] == "conversion"]
    assert set(conversion["decision"]) == {SRM_HOLD}
