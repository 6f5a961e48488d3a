"""Measurement of texts through the real daily job: a small generated world, a campaign preferring
email and falling back to texts (with a holdout), yesterday's run sending its texts through the
official twilio client to the local Twilio sink, and the sink's status callbacks and STOP replies
exported as today's sms_events landing file, as a webhook receiver would. Today's run reads them:
real ingest, dbt, Great Expectations, measurement and the report, whose SMS section shows the
deliveries and opt-outs of those callbacks.

Each run starts at 00:05 UTC of its day (the demo's clock), so yesterday's texts all fall within
yesterday's quiet hours and have their callbacks by the end of today, whatever the hour the test
runs at; the callbacks are exported up to the end of today (UTC), as in production.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from daily_world import generated_world, query

from reengage.runs import failures, run_day
from reengage_dev.demo.loop import clock_at
from reengage_dev.twilio_sink import Outcomes, Rates, export_status_callbacks, start_twilio_sink

pytestmark = pytest.mark.e2e

RUN_DATE = datetime.now(UTC).date()
YESTERDAY = RUN_DATE - timedelta(days=1)
DAYS = 14  # no churn model (it needs 49 days): the policy ranks without scores, which is enough here

CAMPAIGN = """\
id: everyone_anywhere
description: Everyone, by email where they agreed to it, else by text.
trigger:
  sql: "true"
channels: [email, sms]
template:
  format: text
  subject: "Hi {{ first_name or 'there' }}"
  body: "Hi {{ first_name or 'there' }}, {{ favourite_category or 'something new' }} is waiting for you."
holdout_share: 0.3
priority: 100
cooldown_days: 0
"""
# Most texts arrive and most of those are answered STOP, so a small world still has opt-outs to count.
TEXT_OUTCOMES = Outcomes(default=Rates(delivered=0.8, undelivered=0.1, failed=0.1, stop=0.9), seed=3)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("sms_measurement_home")
    campaigns = home / "campaigns"
    campaigns.mkdir()
    (campaigns / "everyone_anywhere.yaml").write_text(CAMPAIGN)
    with (
        generated_world(home, customers=400, days=DAYS, run_date=RUN_DATE, seed=5) as instance,
        pytest.MonkeyPatch.context() as patch,
    ):
        patch.setenv("REENGAGE_CAMPAIGNS", str(campaigns))
        twilio = start_twilio_sink(home / "twilio_sink.sqlite")
        patch.setenv("REENGAGE_TWILIO_LOCAL_SINK_URL", twilio.url)
        # Each text's callback URL carries its send id, which the export keeps beside Twilio's fields.
        patch.setenv("REENGAGE_TWILIO_STATUS_CALLBACK_URL", "https://hooks.example.test/twilio/status")
        try:
            with clock_at(YESTERDAY):
                sent = run_day(YESTERDAY, instance)
            assert sent.success, failures(sent)
            end_of_today = datetime.combine(RUN_DATE + timedelta(days=1), time(), UTC).timestamp() - 1
            export_status_callbacks(
                twilio.store, home / "landing", as_of=end_of_today, outcomes=TEXT_OUTCOMES
            )
            with clock_at(RUN_DATE):
                measured = run_day(RUN_DATE, instance)
            yield home, measured
        finally:
            twilio.stop()


def exported(home: Path) -> list[dict]:
    path = home / "landing" / "sms_events" / f"sms_events_{RUN_DATE.isoformat()}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def expected_sms_figures(home: Path) -> tuple[int, int, int]:
    """(treated users, delivered, opted out) of the users who entered the campaign by text, the deliveries
    and STOP replies read from the export itself."""
    first = query(
        home,
        """
        select send_id, contact, channel, arm from interventions.intervention_list
        where campaign_id = 'everyone_anywhere'
        qualify row_number() over (partition by customer_id order by run_date) = 1
        """,
    )
    treated = {
        send_id: contact for send_id, contact, channel, arm in first if (channel, arm) == ("sms", "treatment")
    }
    records = exported(home)
    delivered = {
        r["send_id"] for r in records if r.get("MessageStatus") == "delivered" and r.get("send_id") in treated
    }
    stopped = {r["From"] for r in records if r.get("OptOutType") == "STOP"}
    opted_out = sum(1 for send_id in delivered if treated[send_id] in stopped)
    return len(treated), len(delivered), opted_out


def report_section(result, title: str) -> list[dict[str, str]]:  # noqa: ANN001 (the day's run result)
    """The rows of one section's table in the report the run wrote (its Markdown, as the UI shows it)."""
    [materialization] = result.asset_materializations_for_node("campaign_report")
    markdown = materialization.metadata["report"].value
    lines = markdown.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0].splitlines()
    table = [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in lines
        if line.startswith("|")
    ]
    header, _rule, *rows = table
    return [dict(zip(header, row, strict=True)) for row in rows]


def test_todays_report_shows_the_texts_deliveries_and_opt_outs_read_from_the_sms_events(world) -> None:
    # Guards measurement that read email events only: the SMS section of the report counts the texted
    # users' deliveries from Twilio's status callbacks (matched by the send id they carry) and their
    # STOP replies as opt-outs, and shows "n/a for texts" where emails have opens and clicks.
    home, measured = world
    assert measured.success, failures(measured)
    treated, delivered, opted_out = expected_sms_figures(home)
    assert treated >= 3 and delivered >= 1 and opted_out >= 1, "the world needs texts answered"
    assert (home / "reports" / f"campaign_report_{RUN_DATE}.html").exists()
    [sms] = report_section(measured, "By channel: SMS")
    assert sms["campaign"] == "everyone_anywhere"
    assert (sms["treated users"], sms["delivered"], sms["opted out"]) == (
        str(treated),
        str(delivered),
        str(opted_out),
    )
    assert (sms["opened"], sms["clicked"], sms["click-through rate"]) == ("n/a for texts",) * 3
    [email] = report_section(measured, "By channel: Email")
    # No mail webhook export lands in this world: the emails' figures are zero, never "n/a".
    assert int(email["treated users"].replace(",", "")) > 0 and email["opened"] == "0"
    assert report_section(measured, "By channel: all channels together")


def test_held_out_users_count_under_the_channel_they_would_have_been_sent_on(world) -> None:
    # Guards per-channel lift against an invented holdout: the policy picks the channel before the
    # holdout draw, so held-out rows name the channel (and number) they would have got, and the
    # SMS row of campaign_channels compares texted users with exactly those held-out users.
    home, _ = world
    [(held,)] = query(
        home,
        "select count(distinct customer_id) from interventions.intervention_list "
        "where run_date = ? and channel = 'sms' and arm = 'holdout'",
        [YESTERDAY],
    )
    rows = query(
        home,
        "select held_out, opted_out, delivered from measurement.campaign_channels "
        "where run_date = ? and campaign_id = 'everyone_anywhere' and channel = 'sms'",
        [RUN_DATE],
    )
    assert held > 0 and rows and rows[0][0] >= held
    guard = query(
        home,
        "select numerator, denominator from measurement.guardrail_metrics "
        "where run_date = ? and metric = 'sms_opt_out_rate' and variant = 'all'",
        [RUN_DATE],
    )
    assert guard == [(rows[0][1], rows[0][2])]
