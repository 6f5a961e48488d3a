"""The SMS channel in the policy: texts only with SMS consent and a number, never to a suppressed number,
inside the channel's own quiet hours, and never longer than its segment limit."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import duckdb
import pytest

from reengage.defs.interventions.campaigns import Template, Trigger
from reengage.defs.interventions.policy import PolicyConfig, PolicyError, run_policy

from .conftest import make_campaign, record_sends, user, write_features, write_sms_suppressions

D = date(2025, 3, 10)
NO_GLOBAL = PolicyConfig(global_holdout_share=0.0)
TEXT = Template(body="Hi {{ first_name }}, your cart misses you", format="text")
TEXT_AND_MAIL = Template(
    subject="Hi {{ first_name }}", body="Hi {{ first_name }}, your cart misses you", format="text"
)


def texter(customer_id: str, number: int, **overrides) -> dict:
    """A user with a number and SMS consent (and email consent unless overridden)."""
    return user(
        customer_id,
        phone=f"+4915100000{number:03d}",
        sms_consent=True,
        sms_consent_status="granted",
        **overrides,
    )


def decisions(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[str, str]]:
    return decisions_on(con, D)


def decisions_on(con: duckdb.DuckDBPyConnection, day: date) -> dict[str, tuple[str, str]]:
    rows = con.execute(
        "select customer_id, channel, reason from interventions.decisions where run_date = ?", [day]
    ).fetchall()
    return {c: (channel, reason) for c, channel, reason in rows}


def listed(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[str, str, str | None, str]]:
    rows = con.execute(
        "select customer_id, channel, contact, subject, body from interventions.intervention_list"
    ).fetchall()
    return {c: (channel, contact, subject, body) for c, channel, contact, subject, body in rows}


def at_midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), UTC)


def test_a_campaign_preferring_email_texts_a_user_who_agreed_only_to_texts_on_their_phone(con) -> None:
    # Guards the fallback to sms: without email consent the user gets the campaign as a text to their
    # number (the list's contact), with no subject; with email consent it stays an email.
    write_features(
        con,
        [texter("texts_only", 1, marketing_consent=False), texter("both", 2), user("mail_only")],
        as_of=D,
    )
    write_sms_suppressions(con)
    run_policy(
        con,
        D,
        [make_campaign("k", channels=("email", "sms"), template=TEXT_AND_MAIL)],
        NO_GLOBAL,
        at_midnight(D),
    )
    assert decisions(con) == {
        "texts_only": ("sms", "chosen"),
        "both": ("email", "chosen"),
        "mail_only": ("email", "chosen"),
    }
    rows = listed(con)
    assert rows["texts_only"] == ("sms", "+4915100000001", None, "Hi Ada, your cart misses you")
    assert rows["both"][:3] == ("email", "both@example.com", "Hi Ada")


def test_consent_to_one_channel_never_reaches_the_user_on_the_other(con) -> None:
    # Guards consent per channel: email consent says nothing about texts (nor a number on file), and
    # SMS consent says nothing about email.
    write_features(
        con,
        [
            user("mail_only", phone="+4915100000009"),  # a number, but no SMS consent
            texter("texts_only", 1, marketing_consent=False),
        ],
        as_of=D,
    )
    write_sms_suppressions(con)
    campaigns = [make_campaign("t", 20, channels=("sms",), template=TEXT), make_campaign("m", 10)]
    run_policy(con, D, campaigns, NO_GLOBAL, at_midnight(D))
    reasons = con.execute(
        "select customer_id, campaign_id, channel, reason from interventions.decisions order by 1, 2"
    ).fetchall()
    assert reasons == [
        ("mail_only", "m", "email", "chosen"),
        ("mail_only", "t", "sms", "suppressed:no_consent"),
        ("texts_only", "m", "email", "suppressed:no_consent"),
        ("texts_only", "t", "sms", "chosen"),
    ]


def test_a_number_that_replied_stop_is_never_selected_for_a_text(con) -> None:
    # Guards the SMS suppressions: a number in fct_sms_suppressions (a STOP reply) is suppressed with
    # its reason, whatever the CRM's consent says, and a campaign that may fall back to email does so.
    write_features(
        con, [texter("stopped", 1), texter("stopped_mail_too", 2, marketing_consent=False)], as_of=D
    )
    write_sms_suppressions(con, [("+4915100000001", "stop_reply"), ("+4915100000002", "stop_reply")])
    run_policy(
        con,
        D,
        [make_campaign("k", channels=("sms", "email"), template=TEXT_AND_MAIL)],
        NO_GLOBAL,
        at_midnight(D),
    )
    assert decisions(con) == {
        "stopped": ("email", "chosen"),
        "stopped_mail_too": ("sms", "suppressed:stop_reply"),
    }
    assert "sms" not in {channel for channel, *_ in listed(con).values()}


def test_without_the_sms_suppressions_mart_the_policy_refuses_to_decide_texts(con) -> None:
    # Guards failing closed: a missing fct_sms_suppressions (dbt never built it) must not read as
    # "nobody is suppressed".
    write_features(con, [texter("u", 1)], as_of=D)
    with pytest.raises(PolicyError, match="fct_sms_suppressions does not exist"):
        run_policy(con, D, [make_campaign("k", channels=("sms",), template=TEXT)], NO_GLOBAL, at_midnight(D))


def test_a_text_over_three_segments_is_a_render_error_with_its_count_and_the_same_mail_still_goes(
    con,
) -> None:
    # Guards the SMS body limit: a body rendered into 4 segments was listed (and would be billed as 4
    # texts); it is refused with the count, per channel: the same body by email is fine.
    long_body = Template(subject="Hi", body="{{ first_name }} " + "x" * 456, format="text")
    write_features(con, [texter("texter", 1, marketing_consent=False), texter("mailer", 2)], as_of=D)
    write_sms_suppressions(con)
    run_policy(
        con, D, [make_campaign("k", channels=("email", "sms"), template=long_body)], NO_GLOBAL, at_midnight(D)
    )
    assert decisions(con) == {
        "texter": ("sms", "render_error:too_long:4_segments"),
        "mailer": ("email", "chosen"),
    }
    assert set(listed(con)) == {"mailer"}


def test_a_campaigns_own_segment_limit_refuses_a_two_segment_text_the_channel_would_allow(con) -> None:
    # Guards the per-campaign limit: a campaign that pays for one segment a text must not list a body
    # of two, though the channel's default (3) would; and a limit of 4 lets a 4-segment body through.
    two_segments = "{{ first_name }} " + "x" * 200
    four_segments = "{{ first_name }} " + "x" * 456
    write_features(con, [texter("one", 1), texter("four", 2)], as_of=D)
    write_sms_suppressions(con)
    strict = make_campaign(
        "strict",
        channels=("sms",),
        template=Template(body=two_segments, format="text", max_segments=1),
        trigger=Trigger(sql="customer_id = 'one'"),
    )
    roomy = make_campaign(
        "roomy",
        channels=("sms",),
        template=Template(body=four_segments, format="text", max_segments=4),
        trigger=Trigger(sql="customer_id = 'four'"),
    )
    run_policy(con, D, [strict, roomy], NO_GLOBAL, at_midnight(D))
    assert decisions(con) == {
        "one": ("sms", "render_error:too_long:2_segments"),
        "four": ("sms", "chosen"),
    }
    assert set(listed(con)) == {"four"}


def test_caps_count_texts_per_channel_and_with_mail_across_channels(con) -> None:
    # Guards the caps with texts: at most one text a week makes the next day's campaign fall back to
    # email, the overall weekly cap then stops both channels, and a second campaign may not text the
    # day after a text under the SMS cooldown. Sends are read back as delivery records them.
    days = [D + timedelta(days=k) for k in range(4)]
    write_features(con, [texter("u", 1), texter("v", 2)], as_of=days)
    write_sms_suppressions(con)
    both = make_campaign(
        "a", 10, channels=("sms", "email"), template=TEXT, trigger=Trigger(sql="customer_id = 'u'")
    )
    config = PolicyConfig(global_holdout_share=0.0, max_per_week=2, channel_max_per_week={"sms": 1})
    for day in days[:3]:
        run_policy(con, day, [both], config, at_midnight(day))
        record_sends(con, day)
    assert [decisions_on(con, day)["u"] for day in days[:3]] == [
        ("sms", "chosen"),
        ("email", "chosen"),
        ("email", "frequency_cap"),  # texts capped, so email would have gone: capped overall
    ]
    first = make_campaign("b", 10, channels=("sms",), template=TEXT, trigger=Trigger(sql="customer_id = 'v'"))
    second = make_campaign(
        "c", 20, channels=("sms", "email"), template=TEXT, trigger=Trigger(sql="customer_id = 'v'")
    )
    spaced = PolicyConfig(global_holdout_share=0.0, max_per_week=5, channel_cooldown_days={"sms": 3})
    run_policy(con, days[0], [first], spaced, at_midnight(days[0]))
    record_sends(con, days[0])
    run_policy(con, days[1], [first, second], spaced, at_midnight(days[1]))
    rows = con.execute(
        "select campaign_id, channel, reason from interventions.decisions"
        " where run_date = ? and customer_id = 'v' order by 1",
        [days[1]],
    ).fetchall()
    assert rows == [("b", "sms", "cooldown"), ("c", "email", "chosen")]
    sent = con.execute(
        "select channel, count(*) from delivery.campaign_sends where customer_id = 'u' group by 1 order by 1"
    )
    assert sent.fetchall() == [("email", 1), ("sms", 1)]


def test_texts_keep_the_channels_quiet_hours_in_the_users_own_zone(con) -> None:
    # Guards quiet hours per channel: a text goes out between 08:00 and 21:00 local time (a preferred
    # 20:00 stays 20:00, where email's window ends at 20:00 and moves it to 19:00; 23:00 becomes 20:00).
    write_features(
        con,
        [
            texter(
                "late_texter", 1, marketing_consent=False, preferred_local_hour=20, timezone="Europe/Berlin"
            ),
            texter(
                "night_texter", 2, marketing_consent=False, preferred_local_hour=23, timezone="Europe/Berlin"
            ),
            user("late_mailer", preferred_local_hour=20, timezone="Europe/Berlin"),
        ],
        as_of=D,
    )
    write_sms_suppressions(con)
    run_policy(
        con,
        D,
        [make_campaign("k", channels=("email", "sms"), template=TEXT_AND_MAIL)],
        NO_GLOBAL,
        at_midnight(D),
    )
    local = dict(
        con.execute(
            "select customer_id, scheduled_send_at_local from interventions.intervention_list"
        ).fetchall()
    )
    assert local == {
        "late_texter": "2025-03-10T20:00:00+01:00[Europe/Berlin]",
        "night_texter": "2025-03-10T20:00:00+01:00[Europe/Berlin]",
        "late_mailer": "2025-03-10T19:00:00+01:00[Europe/Berlin]",
    }


def test_a_held_out_user_records_the_channel_and_number_they_would_have_been_texted_on(con) -> None:
    # Guards per-channel measurement: a held-out user receives nothing, so the only way to compare a
    # channel's treated users with their like is the channel the policy picked before the holdout draw.
    # Decisions and the list record it (and the number) for the held-out rows as for the treated ones.
    users = [texter(f"t{i}", i, marketing_consent=False) for i in range(40)]
    users += [user(f"m{i}") for i in range(40)]
    write_features(con, users, as_of=D)
    write_sms_suppressions(con)
    campaign = make_campaign("k", channels=("email", "sms"), template=TEXT_AND_MAIL, holdout_share=0.5)
    run_policy(con, D, [campaign], NO_GLOBAL, at_midnight(D))
    rows = con.execute(
        "select l.customer_id, l.arm, l.channel, l.contact, d.channel from interventions.intervention_list l "
        "join interventions.decisions d using (run_date, customer_id, campaign_id)"
    ).fetchall()
    held = {customer: (channel, contact, decided) for customer, arm, channel, contact, decided in rows
            if arm == "holdout"}  # fmt: skip
    assert {c[0] for c in held} == {"t", "m"}  # both channels have held-out users
    assert len(rows) == 80 and 0 < len(held) < 80
    for customer, (channel, contact, decided) in held.items():
        expected = ("sms", f"+4915100000{int(customer[1:]):03d}") if customer[0] == "t" else ("email", None)
        assert channel == decided == expected[0]
        assert contact == expected[1] or (expected[1] is None and contact == f"{customer}@example.com")
