"""The pause after a response through the real daily job.

A small generated world runs its day once; a customer the policy chose that day then turns out,
in the day's webhook export, to have clicked one of our campaign messages the day before, and the
day runs again. Real ingest, dbt (fct_user_responses), Great Expectations, policy and delivery.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from daily_world import generated_world, query

from reengage.runs import failures, run_day
from reengage.send_ids import send_id

pytestmark = pytest.mark.e2e

RUN_DATE = datetime.now(UTC).date()  # read at import: runs pass allow_past_dates past midnight
DAYS = 14  # no churn model (it needs 49 days): the policy ranks without scores, which is enough here


def decisions(home: Path) -> dict[tuple[str, str], str]:
    rows = query(
        home,
        "select customer_id, campaign_id, reason from interventions.decisions where run_date = ?",
        [RUN_DATE],
    )
    return {(customer, campaign): reason for customer, campaign, reason in rows}


def unix(day: date, hour: int) -> int:
    return int(datetime.combine(day, time(hour), UTC).timestamp())


def add_a_click(home: Path, customer: str, campaign: str, variant: str) -> str:
    """Today's webhook export gains the customer's click, yesterday, on a message of `campaign` sent
    three days ago; the webhook delivered the click twice (a retry), as SendGrid may. Returns its send id."""
    [(address,)] = query(home, "select email from marts.fct_user_features where customer_id = ?", [customer])
    sent_on = RUN_DATE - timedelta(days=3)
    message = {
        "email": address.upper(),  # as the provider may report it
        "sg_message_id": f"pause-test-{customer}",
        "send_id": send_id(customer, campaign, sent_on),
        "campaign_id": campaign,
        "variant": variant,
        "run_date": sent_on.isoformat(),
        "reason": None,
    }
    records = [
        message
        | {"event": "delivered", "timestamp": unix(sent_on, 10), "sg_event_id": "pause-test-delivered"},
        message
        | {
            "event": "click",
            "timestamp": unix(RUN_DATE - timedelta(days=1), 15),
            "sg_event_id": "pause-test-click",
        },
        message
        | {
            "event": "click",
            "timestamp": unix(RUN_DATE - timedelta(days=1), 15),
            "sg_event_id": "pause-test-click",
        },
    ]
    export = home / "landing" / "email_events" / f"email_events_{RUN_DATE.isoformat()}.jsonl"
    with export.open("a") as out:
        out.writelines(json.dumps(record) + "\n" for record in records)
    return message["send_id"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("pause_home")
    with generated_world(home, customers=400, days=DAYS, run_date=RUN_DATE, seed=5) as instance:
        without = run_day(RUN_DATE, instance, allow_past_dates=True)
        assert without.success, failures(without)
        before = decisions(home)
        # The first customer (by id) the policy chose today, for the campaign it chose them for.
        [(customer, campaign, variant)] = query(
            home,
            "select customer_id, campaign_id, variant from interventions.intervention_list "
            "where run_date = ? and arm = 'treatment' order by customer_id limit 1",
            [RUN_DATE],
        )
        clicked = add_a_click(home, customer, campaign, variant)
        rerun = run_day(RUN_DATE, instance, allow_past_dates=True)
        assert rerun.success, failures(rerun)
        yield home, customer, before, rerun, clicked


@pytest.fixture(autouse=True)
def world_home(world, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REENGAGE_HOME", str(world[0]))


def test_a_customer_who_clicked_a_campaign_message_yesterday_is_held_out_of_every_campaign_today(
    world,
) -> None:
    # Guards the pause after a response: the policy read marts.fct_user_responses, which no model built, so
    # the pause was skipped in every real run and this customer was chosen again.
    home, customer, before, _, _ = world
    after = decisions(home)
    theirs = {campaign: reason for (who, campaign), reason in after.items() if who == customer}
    assert "chosen" in {reason for (who, _), reason in before.items() if who == customer}
    assert theirs and set(theirs.values()) == {"paused_after_response"}
    listed = query(
        home,
        "select count(*) from interventions.intervention_list where run_date = ? and customer_id = ?",
        [RUN_DATE, customer],
    )
    assert listed == [(0,)]


def test_nobody_else_is_decided_differently_because_of_that_click(world) -> None:
    home, customer, before, _, _ = world
    after = decisions(home)
    assert {k: v for k, v in after.items() if k[0] != customer} == {
        k: v for k, v in before.items() if k[0] != customer
    }


def test_the_retried_click_is_one_response_of_the_customer_holding_the_address(world) -> None:
    home, customer, _, _, clicked = world
    responses = dict(
        query(
            home,
            "select response_type, count(*) from marts.fct_user_responses "
            "where customer_id = ? and send_id = ? group by 1",
            [customer, clicked],
        )
    )
    assert responses["click"] == 1


def test_the_responses_gate_ran_and_passed_and_the_run_notes_no_skipped_pause(world) -> None:
    _, _, _, rerun, _ = world
    evaluations = {
        e.event_specific_data.check_name: e.event_specific_data
        for e in rerun.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }
    assert evaluations["fct_user_responses_expectations"].passed
    notes = rerun.asset_materializations_for_node("intervention_list")[0].metadata["notes"].value
    assert not [note for note in notes if "pause" in note]
