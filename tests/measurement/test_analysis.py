"""Outcomes per assigned user and the day's tables on a world with known effects."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from reengage.defs.measurement.analysis import analyse, winners, write_tables
from reengage.defs.measurement.config import MeasurementConfig
from reengage.defs.measurement.outcomes import OUTCOME_NAMES, compute_outcomes
from reengage.defs.measurement.results import compute_campaign_results, write_campaign_results
from reengage.schema.migrations import MissingTable
from reengage.warehouse import connect

from .measurement_world import PLANS, RUN_DATE, TARGETS


@pytest.fixture(scope="module")
def computed(world_db: Path):
    con = duckdb.connect(str(world_db), read_only=True)
    outcomes = compute_outcomes(con, RUN_DATE, TARGETS)
    con.close()
    return outcomes, analyse(outcomes, PLANS, RUN_DATE, MeasurementConfig())


# The outcomes table as measurement wrote it when a row was a daily assignment (before `assignments`).
DAILY_ROW_LAYOUT = (
    "send_id varchar, run_date date, customer_id varchar, campaign_id varchar, variant varchar, "
    "arm varchar, scheduled_at timestamp, window_end_at timestamp, matured boolean, sent boolean, "
    "delivered boolean, opened boolean, clicked boolean, bounced boolean, spam_reported boolean, "
    "unsubscribed boolean, converted boolean, hours_to_open double, hours_to_click double, "
    "hours_to_convert double, revenue double, pre_active_days integer, as_of date"
)


def test_every_assigned_user_has_one_outcome_row_per_campaign_and_no_email(world_db: Path, computed) -> None:
    # The unit is the user in a campaign (this world assigns each user once, so rows and users agree
    # here; tests/measurement/test_user_unit.py re-assigns them).
    outcomes, _ = computed
    con = duckdb.connect(str(world_db), read_only=True)
    users = con.execute(
        "select count(distinct (customer_id, campaign_id)) from interventions.intervention_list"
    ).fetchall()[0][0]
    con.close()
    assert len(outcomes) == users == outcomes["send_id"].nunique()
    assert (outcomes["assignments"] == 1).all()
    assert not any("email" in c for c in outcomes.columns)
    assert not outcomes.astype(str).apply(lambda s: s.str.contains("@")).any().any()
    held = outcomes[outcomes["arm"] == "holdout"]
    assert not held["sent"].any() and not held["delivered"].any()


def one_campaign_world(
    tmp_path: Path, arm: str, users: int, sent_at: datetime, events: list[tuple]
) -> duckdb.DuckDBPyConnection:
    """Users u1..u<users> assigned to win_back's `arm` on 2025-06-01, scheduled at `sent_at`, and
    their stitched `events` (customer_id, event_name, event_ts, value)."""
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("create schema interventions; create schema intermediate")
    con.execute(
        "create table interventions.intervention_list as "
        "select 's' || i as send_id, date '2025-06-01' as run_date, 'u' || i as customer_id, "
        "'email' as channel, 'x' || i || '@x.test' as contact, 'win_back' as campaign_id, "
        "'control' as variant, "
        "$2 as arm, timezone('UTC', $1::timestamp) as scheduled_send_at_utc from range(1, $3 + 1) t(i)",
        [sent_at, arm, users],
    )
    con.register("_e", pd.DataFrame(events, columns=["customer_id", "event_name", "event_ts", "value"]))
    con.execute("create table intermediate.int_events_stitched as select * from _e")
    return con


def test_conversion_window_uses_the_scheduled_time_for_both_arms(tmp_path: Path) -> None:
    at = datetime(2025, 6, 1, 10)
    events = [
        ("u1", "purchase", at + timedelta(hours=1), 20.0),  # inside: converts
        ("u2", "purchase", at - timedelta(minutes=5), 20.0),  # before the send: no
        ("u3", "purchase", at + timedelta(days=7, minutes=1), 20.0),  # after the 7-day window: no
        ("u4", "page_view", at + timedelta(hours=1), None),  # not the target event
    ]
    con = one_campaign_world(tmp_path, "holdout", users=4, sent_at=at, events=events)
    out = compute_outcomes(con, datetime(2025, 6, 20).date(), TARGETS).set_index("customer_id")
    assert out["converted"].to_dict() == {"u1": True, "u2": False, "u3": False, "u4": False}
    assert out.loc["u1", "hours_to_convert"] == pytest.approx(1.0)
    assert out.loc["u1", "revenue"] == 20.0 and out.loc["u2", "revenue"] == 0.0
    assert out["matured"].all()
    # on the day after the send, the window is still open and the conversion is not yet visible
    early = compute_outcomes(con, datetime(2025, 6, 1).date(), TARGETS).set_index("customer_id")
    assert not early["matured"].any() and early.loc["u1", "converted"]
    con.close()


def test_a_refund_in_the_window_comes_off_the_users_revenue_and_converts_nobody(tmp_path: Path) -> None:
    # Guards revenue per user against counting money given back: a refund in the attribution window
    # (an order_refunded event, its amount sent positive) left the measured revenue at the full purchase.
    at = datetime(2025, 6, 1, 10)
    events = [
        ("u1", "purchase", at + timedelta(hours=1), 20.0),
        ("u1", "order_refunded", at + timedelta(hours=2), 5.0),
        ("u2", "order_cancelled", at + timedelta(hours=1), -8.0),  # a sign the tracker chose: still off
    ]
    con = one_campaign_world(tmp_path, "treatment", users=2, sent_at=at, events=events)
    out = compute_outcomes(con, datetime(2025, 6, 20).date(), TARGETS).set_index("customer_id")
    con.close()
    assert out["revenue"].to_dict() == {"u1": 15.0, "u2": -8.0}
    assert out["converted"].to_dict() == {"u1": True, "u2": False}


def test_strong_variant_wins_by_the_sequential_rule(computed) -> None:
    _, t = computed
    c = t.comparisons.set_index(["campaign_id", "comparison", "variant", "metric"])
    bold = c.loc[("win_back", "variant_vs_control", "bold", "conversion")]
    assert bold["decision"] == "winner"
    assert bold["abs_ci_low"] < 0.06 < bold["abs_ci_high"]  # true lift = 0.09 - 0.03
    assert bold["seq_ci_low"] <= bold["abs_ci_low"] and bold["seq_ci_high"] >= bold["abs_ci_high"]
    assert bold["prob_beat"] > 0.99
    assert pd.notna(bold["seq_first_decision_date"])
    assert list(winners(t.comparisons)["variant"]) == ["bold"]
    # the null campaign is not declared anything
    spammy = c.loc[("spammy", "treatment_vs_holdout", "all", "conversion")]
    assert spammy["decision"] == "no difference yet"
    assert set(t.comparisons["metric"]) == {"conversion", "revenue_per_user"}


def test_bh_adjusts_every_comparison_of_the_day(computed) -> None:
    _, t = computed
    c = t.comparisons.dropna(subset=["p_value"])
    assert (c["p_adjusted"] >= c["p_value"] - 1e-12).all()
    smallest = c["p_value"].idxmin()
    assert c.loc[smallest, "p_adjusted"] == pytest.approx(c.loc[smallest, "p_value"] * len(c))


def test_cuped_uses_the_pre_period_and_narrows_the_interval(computed) -> None:
    _, t = computed
    c = t.comparisons[t.comparisons["metric"] == "conversion"]
    assert (c["cuped_variance_reduction"] > 0).all()
    assert (c["cuped_ci_high"] - c["cuped_ci_low"] < c["abs_ci_high"] - c["abs_ci_low"]).all()


def test_srm_passes_for_the_planned_split_and_fails_for_a_skewed_one(computed) -> None:
    outcomes, t = computed
    assert not t.srm["mismatch"].any()
    skewed = pd.concat(
        [outcomes, outcomes[(outcomes["campaign_id"] == "win_back") & (outcomes["arm"] == "holdout")]],
        ignore_index=True,
    )
    t2 = analyse(skewed, PLANS, RUN_DATE, MeasurementConfig())
    assert t2.srm.set_index("campaign_id").loc["win_back", "mismatch"]
    decisions = t2.comparisons[
        (t2.comparisons["campaign_id"] == "win_back") & (t2.comparisons["metric"] == "conversion")
    ]
    assert set(decisions["decision"]) == {"check assignment (SRM)"}


def test_guardrail_pauses_the_spammy_campaign_only(computed) -> None:
    _, t = computed
    p = t.pauses.set_index("campaign_id")
    assert bool(p.loc["spammy", "paused"]) and "unsubscribe_rate" in p.loc["spammy", "reason"]
    assert not bool(p.loc["win_back", "paused"]) and pd.isna(p.loc["win_back", "reason"])
    # a per-campaign override raises the limit; flag-only mode keeps the reason without pausing
    relaxed = MeasurementConfig(campaign_limits={"spammy": {"max_unsubscribe_rate": 0.2}})
    assert not analyse(computed[0], PLANS, RUN_DATE, relaxed).pauses.set_index("campaign_id")["paused"].any()
    flag_only = analyse(computed[0], PLANS, RUN_DATE, MeasurementConfig(pause_on_breach=False)).pauses
    row = flag_only.set_index("campaign_id").loc["spammy"]
    assert not row["paused"] and "unsubscribe_rate" in row["reason"]


def test_tables_are_written_idempotently(world_db: Path, computed, tmp_path: Path) -> None:
    outcomes, t = computed
    db = tmp_path / "copy.duckdb"
    shutil.copy(world_db, db)
    con = duckdb.connect(str(db))
    first = write_tables(con, t, outcomes)
    second = write_tables(con, t, outcomes)
    assert first == second
    cols = con.execute("describe measurement.campaign_guardrails").fetchall()
    assert [(c[0], c[1]) for c in cols] == [
        ("campaign_id", "VARCHAR"),
        ("run_date", "DATE"),
        ("paused", "BOOLEAN"),
        ("reason", "VARCHAR"),
    ]
    paused = con.execute("select campaign_id from measurement.campaign_guardrails where paused").fetchall()
    assert paused == [("spammy",)]
    con.close()


def test_an_outcomes_table_of_the_daily_row_layout_is_replaced_by_the_user_layout(
    world_db: Path, computed, tmp_path: Path
) -> None:
    # Guards the upgrade of a warehouse written when a row was a daily assignment: the table holds
    # the latest run only, so it is rebuilt with the per-user columns instead of failing the insert.
    outcomes, t = computed
    db = tmp_path / "old.duckdb"
    shutil.copy(world_db, db)
    con = duckdb.connect(str(db))
    con.execute("create schema measurement")
    con.execute(f"create table measurement.assignment_outcomes ({DAILY_ROW_LAYOUT})")
    con.execute(
        "insert into measurement.assignment_outcomes (send_id, run_date) values ('old', '2025-06-01')"
    )
    write_tables(con, t, outcomes)
    columns = [c[0] for c in con.execute("describe measurement.assignment_outcomes").fetchall()]
    assert columns == OUTCOME_NAMES
    rows = con.execute(
        "select count(*), count(*) filter (where send_id = 'old') from measurement.assignment_outcomes"
    ).fetchall()
    assert rows == [(len(outcomes), 0)]
    con.close()


def test_nothing_assigned_yet_gives_empty_tables(tmp_path: Path) -> None:
    # A migrated warehouse before the first assignment: every table there, the day's list empty.
    with connect(tmp_path / "empty.duckdb") as con:
        outcomes = compute_outcomes(con, RUN_DATE, TARGETS)
        t = analyse(outcomes, PLANS, RUN_DATE, MeasurementConfig())
        assert all(len(df) == 0 for _, df in t.items())
        write_tables(con, t, outcomes)
        assert con.execute("select count(*) from measurement.campaign_guardrails").fetchall()[0][0] == 0
        write_campaign_results(con, compute_campaign_results(con, RUN_DATE, TARGETS))
        assert con.execute("select count(*) from measurement.campaign_results").fetchall()[0][0] == 0


def test_a_warehouse_never_migrated_is_named_rather_than_read_as_nothing_assigned(tmp_path: Path) -> None:
    # Guards the old probe that answered "no assignments" for a missing list: a migrated warehouse
    # always has it (empty before the first assignment), so its absence is a warehouse no stage
    # has opened for writing, and measuring it as empty would report campaigns that ran as idle.
    with duckdb.connect(str(tmp_path / "bare.duckdb")) as con:
        with pytest.raises(MissingTable, match="interventions.intervention_list"):
            compute_outcomes(con, RUN_DATE, TARGETS)
        with pytest.raises(MissingTable, match="interventions.intervention_list"):
            compute_campaign_results(con, RUN_DATE, TARGETS)
