"""Targeting and the probabilities every decision records: what the hashes drew, and from what."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import duckdb
import pytest

from reengage.defs.interventions.campaigns import Targeting, Trigger, Variant
from reengage.defs.interventions.hashing import bucket
from reengage.defs.interventions.policy import PolicyConfig, run_policy
from reengage.learning.uplift.targeting import TargetingRule, selection_probabilities

from .conftest import make_campaign, user, write_features, write_scores, write_uplift_scores

D = date(2025, 3, 10)
NOW = datetime(2025, 3, 10, 0, 0, tzinfo=UTC)
CONFIG = PolicyConfig(global_holdout_share=0.1)
SALT = CONFIG.salt


def decisions(con: duckdb.DuckDBPyConnection, run_date: date = D) -> list[dict]:
    frame = (
        con.execute(
            "select d.*, l.variant from interventions.decisions d left join interventions.intervention_list l"
            " using (run_date, customer_id, campaign_id) where d.run_date = ?",
            [run_date],
        )
        .to_arrow_table()
        .to_pandas()
    )
    return frame.to_dict("records")


def _interval_share(draw: float, cuts: list[tuple[str, float]]) -> tuple[str, float]:
    """The named interval of [0, 1) a draw fell in, and that interval's width."""
    low = 0.0
    for name, high in cuts:
        if draw < high:
            return name, high - low
        low = high
    raise AssertionError("cuts must end at 1")


def test_every_decision_records_the_probability_of_its_assignment_as_the_hashes_draw_it(con) -> None:
    # Guards the evaluation data uplift learning and policy estimates rest on: each row's recorded
    # probabilities must be the widths of the hash intervals its draws fell in (global holdout,
    # campaign holdout, variant), times 1 for what no draw decided (suppression, priority).
    people = [user(f"u{i:04d}", marketing_consent=i % 17 != 0) for i in range(3000)]
    write_features(con, people, as_of=D)
    weighted = make_campaign(
        "weighted",
        priority=5,
        trigger=Trigger(sql="customer_id < 'u2000'"),
        holdout_share=0.2,
        variants=(Variant("control", 1.0, control=True), Variant("bold", 3.0)),
    )
    plain = make_campaign("plain", priority=9, holdout_share=0.1)
    run_policy(con, D, [weighted, plain], CONFIG, NOW)

    rows = decisions(con)
    assert len(rows) == 2000 + 3000
    g = CONFIG.global_holdout_share
    for row in rows:
        customer, campaign = row["customer_id"], row["campaign_id"]
        h = 0.2 if campaign == "weighted" else 0.1
        winner = not (campaign == "plain" and customer < "u2000" and int(customer[1:]) % 17 != 0)
        if row["reason"].startswith("suppressed:"):
            assert (row["assignment_probability"], row["treatment_probability"]) == (1.0, 0.0)
            assert row["control_probability"] == 0.0
            continue
        if not winner:
            # Outranked whatever any draw says, a globally held user's included: no chance in it.
            assert row["reason"] == "lower_priority" and row["assignment_probability"] == 1.0
        elif bucket(SALT, "global", customer) < g:
            # The global holdout is drawn for the winner only, where the campaign holdout is.
            assert row["reason"] == "global_holdout"
            assert row["assignment_probability"] == pytest.approx(g)
        else:
            arm, arm_share = _interval_share(
                bucket(SALT, "holdout", customer, campaign), [("campaign_holdout", h), ("chosen", 1.0)]
            )
            assert arm == row["reason"]
            cuts = [("control", 0.25), ("bold", 1.0)] if campaign == "weighted" else [("control", 1.0)]
            variant, variant_share = _interval_share(bucket(SALT, "variant", customer, campaign), cuts)
            assert variant == row["variant"]
            assert row["assignment_probability"] == pytest.approx((1 - g) * arm_share * variant_share)
        # The chance of being sent: every draw falling the sending way, for the day's winner only.
        expected = (1 - g) * (1 - h) if winner else 0.0
        assert row["treatment_probability"] == pytest.approx(expected), row
        # The chance of being held back for good: either holdout, for the day's winner only.
        assert row["control_probability"] == pytest.approx(g + (1 - g) * h if winner else 0.0), row
        assert row["exploration"] is False and row["targeting"] == "rules"

    # And what the hashes drew matches the probabilities recorded, over many users.
    winners = [r for r in rows if r["treatment_probability"] > 0]
    sent = sum(r["reason"] == "chosen" for r in winners)
    expected = sum(r["treatment_probability"] for r in winners)
    spread = math.sqrt(sum(p * (1 - p) for p in (r["treatment_probability"] for r in winners)))
    assert abs(sent - expected) < 4 * spread


def _uplift_world(con: duckdb.DuckDBPyConnection, n: int, days: list[date]) -> dict[str, float]:
    people = [user(f"u{i:04d}") for i in range(n)]
    write_features(con, people, as_of=days)
    # Predictions spread from harm to help, a different order from the customer ids.
    predicted = {p["customer_id"]: ((i * 7919) % n) / n * 0.15 - 0.05 for i, p in enumerate(people)}
    for day in days:
        write_uplift_scores(con, day, "upl", predicted)
    return predicted


UPLIFT = Targeting(mode="uplift", budget_share=0.3, min_uplift=0.01, exploration_share=0.1)


def test_uplift_targeting_sends_the_highest_predicted_uplift_within_budget_and_never_a_predicted_harm(con):
    # Guards the promise of uplift targeting: a predicted harm is never assigned, the ranking fills
    # what exploration leaves of the budget with the highest predictions, and every user not sent
    # for their prediction has a reason of their own.
    predicted = _uplift_world(con, 2000, [D])
    campaign = make_campaign("upl", holdout_share=0.1, targeting=UPLIFT)
    run = run_policy(con, D, [campaign], PolicyConfig(global_holdout_share=0.0), NOW)
    rows = {r["customer_id"]: r for r in decisions(con)}

    assigned = {c for c, r in rows.items() if r["reason"] in ("chosen", "campaign_holdout")}
    assert all(predicted[c] >= 0 for c in assigned)
    harmed = {c for c, p in predicted.items() if p < 0}
    assert {c for c, r in rows.items() if r["reason"] == "targeting:predicted_harm"} == harmed
    low = {c for c, p in predicted.items() if 0 <= p < 0.01}
    assert all(
        rows[c]["reason"] in ("targeting:low_predicted_uplift", "chosen", "campaign_holdout") for c in low
    )
    assert {r["reason"] for c, r in rows.items() if c not in assigned} == {
        "targeting:predicted_harm",
        "targeting:low_predicted_uplift",
        "targeting:over_budget",
    }

    explored = {c for c, r in rows.items() if r["exploration"]}
    ranked = assigned - explored
    # Ranked picks are the top predictions among the users not explored.
    cut = min(predicted[c] for c in ranked)
    assert all(predicted[c] < cut for c in rows if c not in assigned and predicted[c] >= 0.01)
    # Expected assignments equal the budget: the recorded selection chances sum to 30% of 2000.
    assert sum(r["treatment_probability"] / 0.9 for r in rows.values()) == pytest.approx(600, abs=1)
    for customer, row in rows.items():
        assert row["targeting"] == "uplift" and row["uplift_model_version"] == "uplift-test"
        assert row["predicted_uplift"] == pytest.approx(predicted[customer])
        chance = (
            0.0 if customer in harmed else 1.0 if customer in ranked and cut <= predicted[customer] else 0.1
        )
        if customer in ranked or customer in harmed or customer not in assigned:
            assert row["treatment_probability"] == pytest.approx(chance * 0.9), customer
    assert not [n for n in run.notes if "trigger rules" in n]
    explored = sum(1 for c in rows if rows[c]["exploration"])
    assert run.targeting == {"upl": {"mode": "uplift", "uplift_model": "uplift-test", "explored": explored}}


def test_the_exploration_share_is_honoured_in_expectation_and_drawn_anew_each_day(con) -> None:
    # Guards learning and unbiased measurement under uplift targeting: a share of the users who may
    # be sent is assigned at random every day, whatever their prediction.
    days = [D + timedelta(days=k) for k in range(10)]
    predicted = _uplift_world(con, 1000, days)
    sendable = sum(p >= 0 for p in predicted.values())
    campaign = make_campaign("upl", targeting=UPLIFT)
    explored_by_day = []
    for day in days:
        run_policy(
            con,
            day,
            [campaign],
            PolicyConfig(global_holdout_share=0.0),
            datetime.combine(day, NOW.time(), UTC),
        )
        explored_by_day.append({r["customer_id"] for r in decisions(con, day) if r["exploration"]})
    total = sum(len(e) for e in explored_by_day)
    n = sendable * len(days)
    assert abs(total - 0.1 * n) < 4 * math.sqrt(n * 0.1 * 0.9)
    assert len(set.union(*explored_by_day)) > 2 * len(explored_by_day[0]), "the same users explored every day"
    assert all(predicted[c] >= 0 for c in set.union(*explored_by_day))


@pytest.mark.parametrize(
    ("targeting", "why"),
    [
        (UPLIFT, "uplift targeting has no promoted uplift model to predict with yet"),
        (Targeting(mode="risk", budget_share=0.3), "risk targeting has no churn scores to rank by yet"),
    ],
    ids=["uplift before its first model", "risk before any churn score"],
)
def test_a_ranked_campaign_with_nothing_to_rank_by_draws_its_budget_among_its_rules_and_says_so(
    con, targeting, why
) -> None:
    # Guards the cold start: before any uplift model is promoted (or churn score written) the
    # campaign still runs on its trigger rules and the run says why, but keeps its daily budget,
    # drawn at random: ranking nobody sent nothing, and sending everyone the rules select overran a
    # budget set for cost (texts are paid for) or for the audience's patience.
    n = 2000
    write_features(con, [user(f"u{i:04d}") for i in range(n)], as_of=D)
    campaign = make_campaign("c", targeting=targeting)
    run = run_policy(con, D, [campaign], PolicyConfig(global_holdout_share=0.0), NOW)
    rows = decisions(con)
    assert {r["targeting"] for r in rows} == {"random"}
    assert {r["reason"] for r in rows} == {"chosen", "targeting:not_drawn"}
    assigned = sum(r["reason"] == "chosen" for r in rows)
    assert abs(assigned - 0.3 * n) < 4 * math.sqrt(n * 0.3 * 0.7)
    for row in rows:
        assert row["selection_probability"] == pytest.approx(0.3)
        assert row["exploration"] is (row["reason"] == "chosen")
    assert f"campaign c targets by its trigger rules, its budget drawn at random: {why}" in run.notes


@pytest.mark.parametrize(
    "targeting",
    [Targeting(mode="random", budget_share=0.25), Targeting(mode="risk", budget_share=0.25)],
    ids=["random", "risk"],
)
def test_ranked_and_random_targeting_assign_their_budget(con, targeting) -> None:
    # Guards the other policies uplift is compared with: risk targeting takes the highest churn
    # scores, random targeting draws its budget; both record each row's chance of being assigned.
    people = [user(f"u{i:04d}") for i in range(2000)]
    write_features(con, people, as_of=D)
    write_scores(con, D, {p["customer_id"]: (i % 100) / 100 for i, p in enumerate(people)})
    run_policy(con, D, [make_campaign("c", targeting=targeting)], PolicyConfig(global_holdout_share=0.0), NOW)
    rows = decisions(con)
    assigned = [r for r in rows if r["reason"] == "chosen"]
    assert sum(r["treatment_probability"] for r in rows) == pytest.approx(500, abs=0.5)
    if targeting.mode == "risk":
        assert len(assigned) == 500 and min(r["churn_probability"] for r in assigned) >= 0.75
        assert {r["reason"] for r in rows} == {"chosen", "targeting:over_budget"}
    else:
        assert abs(len(assigned) - 500) < 4 * math.sqrt(2000 * 0.25 * 0.75)
        assert all(r["exploration"] for r in assigned)
        assert {r["reason"] for r in rows} == {"chosen", "targeting:not_drawn"}


def test_every_decision_chance_could_have_sent_records_when_its_message_would_go(con) -> None:
    # Guards the clock of evaluation data: a held-out or untargeted row's outcome must be counted
    # from the time its message would have gone, the same time a sent one's is counted from.
    write_features(con, [user(f"u{i:03d}", preferred_local_hour=i % 24) for i in range(400)], as_of=D)
    campaign = make_campaign("c", holdout_share=0.3, targeting=Targeting(mode="random", budget_share=0.5))
    run_policy(con, D, [campaign], CONFIG, NOW)
    rows = con.execute(
        "select d.reason, d.treatment_probability, d.scheduled_send_at_utc, l.scheduled_send_at_utc"
        " from interventions.decisions d left join interventions.intervention_list l"
        " using (run_date, customer_id, campaign_id)"
    ).fetchall()
    reasons = {r[0] for r in rows}
    assert {"chosen", "campaign_holdout", "global_holdout", "targeting:not_drawn"} <= reasons
    for reason, chance, decided_at, listed_at in rows:
        assert chance > 0 and decided_at is not None, reason
        assert listed_at is None or listed_at == decided_at


@pytest.mark.parametrize(
    "targeting",
    [UPLIFT, Targeting(mode="risk", budget_sends=333, exploration_share=0.2), Targeting("random", 0.4)],
    ids=["uplift", "risk", "random"],
)
def test_the_python_twin_of_targeting_gives_every_contender_the_chance_the_daily_decision_recorded(
    con, targeting
) -> None:
    # Guards what-if judging: a targeting is judged on logged decisions with the Python twin of the
    # rule, so the twin must give the very chances the SQL decision recorded.
    predicted = _uplift_world(con, 1500, [D])
    write_scores(con, D, {c: bucket("risk", c) for c in predicted})
    campaign = make_campaign("upl", holdout_share=0.2, targeting=targeting)
    run_policy(con, D, [campaign], CONFIG, NOW)
    rows = [r for r in decisions(con) if r["reason"] != "lower_priority"]
    score = [r["predicted_uplift"] if targeting.mode == "uplift" else r["churn_probability"] for r in rows]
    rule = TargetingRule(
        targeting.mode,
        targeting.budget_share,
        targeting.budget_sends,
        targeting.min_uplift,
        targeting.exploration_share,
    )
    twin = selection_probabilities(rule, [D] * len(rows), score, [r["customer_id"] for r in rows])
    recorded = [r["treatment_probability"] / ((1 - CONFIG.global_holdout_share) * 0.8) for r in rows]
    assert twin.tolist() == pytest.approx(recorded)
    assert twin.tolist() == pytest.approx([r["selection_probability"] for r in rows])


def test_random_targeting_records_the_chance_of_a_holdout_apart_from_not_being_drawn(con) -> None:
    # Guards the comparison arm of uplift models and targeting estimates: a row the targeting did
    # not draw today may be drawn tomorrow, inside today's window, so only the holdouts count as
    # held back for good, each with the chance its draws had: selection * (g + (1 - g) * h), both
    # holdouts drawn among the assigned only.
    people = [user(f"u{i:04d}") for i in range(4000)]
    write_features(con, people, as_of=D)
    campaign = make_campaign("c", holdout_share=0.2, targeting=Targeting(mode="random", budget_share=0.25))
    run_policy(con, D, [campaign], CONFIG, NOW)
    rows = decisions(con)
    g = CONFIG.global_holdout_share
    for row in rows:
        assert row["selection_probability"] == pytest.approx(0.25)
        assert row["control_probability"] == pytest.approx(0.25 * (g + (1 - g) * 0.2)), row
        if row["reason"] == "targeting:not_drawn":
            assert row["assignment_probability"] == pytest.approx(0.75), row
    held = sum(r["reason"] in ("global_holdout", "campaign_holdout") for r in rows)
    expected = sum(r["control_probability"] for r in rows)
    assert abs(held - expected) < 4 * math.sqrt(expected)
    assert {r["reason"] for r in rows} == {
        "chosen",
        "campaign_holdout",
        "global_holdout",
        "targeting:not_drawn",
    }
