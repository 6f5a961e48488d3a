"""The SMS channel through the real daily job: a small generated world whose customers partly have a
number and SMS consent, a campaign preferring email and falling back to texts, and the day's Twilio
export with STOP replies (one refused at ingest for its formatted number). Real ingest, dbt
(fct_sms_suppressions), Great Expectations and the policy.

Delivery has no SMS sender yet: the email step refuses a list holding texts, so the day stops there
with nothing planned or sent (the SMS sender, `sms_sends`, is built apart and takes those rows).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, time

import pytest
from daily_world import generated_world, query

from reengage.runs import failures, run_day
from reengage_dev.twilio_sink import start_twilio_sink

pytestmark = pytest.mark.e2e

RUN_DATE = datetime.now(UTC).date()  # read at import: runs pass allow_past_dates past midnight
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
holdout_share: 0.0
priority: 100
cooldown_days: 0
"""


def stop_reply(event_id: str, number: str, hour: int) -> dict:
    """An inbound STOP as Twilio's callback carries it (Advanced Opt-Out), yesterday."""
    at = datetime.combine(RUN_DATE, time(hour), UTC).isoformat().replace("+00:00", "Z")
    return {
        "EventId": event_id,
        "Timestamp": at,
        "MessageSid": f"SM{event_id}",
        "AccountSid": "AC" + "0" * 32,
        "From": number,
        "To": "+14155550100",
        "Body": "STOP",
        "OptOutType": "STOP",
        "MessageStatus": "received",
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("sms_home")
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
        texters = query(
            home,
            "select customer_id, phone from raw.customers where sms_consent and not marketing_consent "
            "and phone is not null group by all order by customer_id",
        )
        assert len(texters) >= 6, "the world needs customers who agreed to texts only"
        stopped, refused_stop = texters[0], texters[1]
        spaced = f"{refused_stop[1][:2]} {refused_stop[1][2:5]} {refused_stop[1][5:]}"  # "+1 555 0000042"
        export = home / "landing" / "sms_events" / f"sms_events_{RUN_DATE.isoformat()}.jsonl"
        export.parent.mkdir(parents=True, exist_ok=True)
        export.write_text(
            "".join(
                json.dumps(r) + "\n" for r in (stop_reply("e1", stopped[1], 1), stop_reply("e2", spaced, 2))
            )
        )
        result = run_day(RUN_DATE, instance, allow_past_dates=True)
        texted = sorted((text.to, text.body) for text in twilio.store.texts())
        again = run_day(RUN_DATE, instance, allow_past_dates=True)  # a rerun of the day
        try:
            yield home, result, stopped[0], refused_stop[0], twilio, (texted, again)
        finally:
            twilio.stop()


def test_users_who_agreed_only_to_texts_get_the_campaign_as_a_text_to_their_number(world) -> None:
    # Guards the SMS channel end to end: `channels: [email, sms]` falls back to a text for a user who
    # cannot be emailed (no email consent, a suppressed address) but agreed to texts, listed with
    # channel sms and their E.164 number as the contact, no subject.
    home, _, stopped, refused_stop, *_ = world
    expected = dict(
        query(
            home,
            """
            select f.customer_id, f.phone
            from marts.fct_user_features f
            join interventions.decisions d on d.customer_id = f.customer_id and d.run_date = f.as_of_date
            left join marts.fct_email_suppressions s on s.email = f.email
            where f.as_of_date = ? and f.sms_consent_status = 'granted' and f.phone is not null
              and (f.consent_status != 'granted' or s.email is not null)
              and d.reason != 'global_holdout'
            """,
            [RUN_DATE],
        )
    )
    rows = query(
        home,
        "select customer_id, contact, subject, body from interventions.intervention_list "
        "where run_date = ? and channel = 'sms'",
        [RUN_DATE],
    )
    texted = {customer: contact for customer, contact, _, _ in rows}
    assert len(texted) >= 4
    assert texted == {c: phone for c, phone in expected.items() if c not in (stopped, refused_stop)}
    assert all(contact.startswith("+1555") for contact in texted.values())
    assert all(subject is None and body.startswith("Hi ") for _, _, subject, body in rows)


def test_consent_to_one_channel_never_yields_a_message_on_the_other(world) -> None:
    # Guards consent per channel through the daily job: every texted user agreed to texts, every mailed
    # user to email, whatever their other consent says.
    home, *_ = world
    wrong = query(
        home,
        """
        select l.customer_id, l.channel
        from interventions.intervention_list l
        join marts.fct_user_features f using (customer_id)
        where l.run_date = ? and f.as_of_date = l.run_date
          and ((l.channel = 'sms' and f.sms_consent_status != 'granted')
            or (l.channel = 'email' and f.consent_status != 'granted'))
        """,
        [RUN_DATE],
    )
    assert wrong == []
    assert query(
        home,
        "select count(*) from interventions.intervention_list where run_date = ? and channel = 'email'",
        [RUN_DATE],
    ) != [(0,)]


def test_a_number_that_replied_stop_is_never_texted_even_when_its_reply_was_refused_at_ingest(world) -> None:
    # Guards the SMS suppressions failing safe: a STOP in the day's export suppresses the number, and a
    # STOP refused at ingest for its formatted number (file, row and column in the quarantine) is read
    # back and suppresses it all the same. Neither customer agreed to email, so neither is listed (the
    # decision names the first channel's reason, email's no_consent).
    home, _, stopped, refused_stop, *_ = world
    suppressed = query(
        home,
        "select f.customer_id, s.suppression_reason, s.refused_event_count from marts.fct_sms_suppressions s "
        "join marts.fct_user_features f on f.phone = s.phone and f.as_of_date = s.as_of_date order by 1",
    )
    assert suppressed == sorted([(stopped, "stop_reply", 0), (refused_stop, "stop_reply", 1)])
    listed = query(
        home,
        "select count(*) from interventions.intervention_list where run_date = ? and customer_id in (?, ?)",
        [RUN_DATE, stopped, refused_stop],
    )
    assert listed == [(0,)]
    refused = query(
        home,
        "select row, \"column\", reason from raw.quarantine where source = 'sms_events' and not row_kept",
    )
    assert refused == [(2, "From", "not an E.164 phone number")]


def test_the_day_sends_each_text_once_through_twilio_beside_the_emails(world) -> None:
    # Guards the SMS channel through the real daily job: the list's texts go through the official
    # twilio client to the local Twilio sink, each exactly once, to the listed number with the
    # listed body; the emails of the same day still go to the mail sink; a rerun sends nothing new.
    home, result, _, _, twilio, (texted, again) = world
    assert result.success, failures(result)
    listed = sorted(
        query(
            home,
            "select contact, body from interventions.intervention_list "
            "where run_date = ? and channel = 'sms' and arm = 'treatment'",
            [RUN_DATE],
        )
    )
    assert listed and texted == listed
    [(emailed,)] = query(
        home,
        "select count(*) from delivery.campaign_sends where run_date = ? and channel = 'email' "
        "and state = 'accepted'",
        [RUN_DATE],
    )
    assert emailed > 0
    assert again.success, failures(again)
    assert sorted((text.to, text.body) for text in twilio.store.texts()) == listed
