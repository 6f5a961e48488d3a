"""The policy over channels: each campaign reaches a user on the first channel they can be reached on,
caps hold per channel and across channels, and a user's day still has one message.

These tests add a channel of their own ("postcard", addressed from two columns the tests add to the
features): the policy must work for any channel defined as data, not only for the two the product
ships. The same rules with the product's SMS channel are in test_policy_sms.py.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import duckdb
import pytest

from reengage.channels import CHANNELS, Channel, Consent, RendererLimits, Suppressions
from reengage.defs.interventions.policy import PolicyConfig, PolicyError, run_policy
from reengage.send_ids import send_id

from .conftest import make_campaign, record_sends, user, write_features

D = date(2025, 3, 10)
DAYS = [D + timedelta(days=k) for k in range(5)]

POSTCARD = Channel(
    name="postcard",
    contact_column="postal_address",
    contact_label="postal_address",
    contact_pattern=r"^[a-z0-9 ,]+$",
    consent=Consent(
        status_column="postal_consent",
        crm_column="marketing_consent",
        crm_updated_column="consent_updated_at",
    ),
    suppressions=Suppressions(
        table="marts.fct_postcard_suppressions",
        contact_column="postal_address",
        reason_column="suppression_reason",
        first_suppressed_column="first_suppressed_at",
    ),
    limits=RendererLimits(template_kinds=("jinja",), needs_subject=False),
    sender="printer",
    provider_events_source="email_events",
    quiet_hours=(9, 17),
)
WITH_POSTCARDS = {**CHANNELS, POSTCARD.name: POSTCARD}
NO_GLOBAL = PolicyConfig(global_holdout_share=0.0)


def write_people(con: duckdb.DuckDBPyConnection, people: dict[str, dict], days: list[date] = DAYS) -> None:
    """Features for `people` ({customer_id: overrides}), plus the postcard columns and suppressions."""
    postal = {c: (o.pop("postal_address", f"{c} main street"), o.pop("postal_consent", "granted"))
              for c, o in people.items()}  # fmt: skip
    write_features(con, [user(c, **o) for c, o in people.items()], as_of=days)
    con.execute("alter table marts.fct_user_features add column postal_address varchar")
    con.execute("alter table marts.fct_user_features add column postal_consent varchar")
    for customer, (address, consent) in postal.items():
        con.execute(
            "update marts.fct_user_features set postal_address = ?, postal_consent = ? where customer_id = ?",
            [address, consent, customer],
        )
    con.execute(
        "create or replace table marts.fct_postcard_suppressions"
        " (postal_address varchar, suppression_reason varchar, first_suppressed_at timestamptz)"
    )


def decisions(con: duckdb.DuckDBPyConnection, day: date = D) -> dict[str, tuple[str, str]]:
    """{customer_id: (channel, reason)} of the day's decisions (one campaign)."""
    rows = con.execute(
        "select customer_id, channel, reason from interventions.decisions where run_date = ?", [day]
    ).fetchall()
    return {c: (channel, reason) for c, channel, reason in rows}


def at_midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), UTC)


def test_a_campaign_listing_channels_reaches_each_user_on_the_first_they_have_consent_and_a_contact_for(
    con,
) -> None:
    # Guards the order of preference: a user without consent or a usable contact on the first channel
    # gets the campaign on the next one, never on a channel they did not agree to; one without any
    # usable channel is suppressed with the first channel's reason.
    write_people(
        con,
        {
            "both": {},
            "no_postal_consent": {"postal_consent": "withdrawn"},
            "no_address": {"postal_address": None},
            "suppressed_address": {"postal_address": "1 closed road"},
            "email_only_withdrawn_too": {"postal_consent": "withdrawn", "marketing_consent": False},
            "no_contact_at_all": {"postal_address": "", "email": None},
        },
    )
    con.execute("insert into marts.fct_postcard_suppressions values ('1 Closed Road ', 'returned', now())")
    campaign = make_campaign("k", channels=("postcard", "email"))
    run_policy(con, D, [campaign], NO_GLOBAL, at_midnight(D), channels=WITH_POSTCARDS)

    assert decisions(con) == {
        "both": ("postcard", "chosen"),
        "no_postal_consent": ("email", "chosen"),
        "no_address": ("email", "chosen"),
        "suppressed_address": ("email", "chosen"),
        "email_only_withdrawn_too": ("postcard", "suppressed:no_consent"),
        "no_contact_at_all": ("postcard", "suppressed:missing_postal_address"),
    }
    listed = con.execute(
        "select customer_id, channel, contact, send_id from interventions.intervention_list order by 1"
    ).fetchall()
    assert [(c, ch, contact) for c, ch, contact, _ in listed] == [
        ("both", "postcard", "both main street"),
        ("no_address", "email", "no_address@example.com"),
        ("no_postal_consent", "email", "no_postal_consent@example.com"),
        ("suppressed_address", "email", "suppressed_address@example.com"),
    ]
    # Email keeps the id every ledger row had before channels; another channel's id names it.
    ids = {c: sid for c, _, _, sid in listed}
    assert ids["no_address"] == send_id("no_address", "k", D)
    assert ids["both"] == send_id("both", "k", D, "postcard") != send_id("both", "k", D)


def test_an_email_only_campaign_never_reaches_a_user_on_another_channel_they_agreed_to(con) -> None:
    # Guards consent per channel the other way round: agreeing to postcards says nothing about email.
    write_people(con, {"postal_only": {"marketing_consent": False}})
    run_policy(con, D, [make_campaign("k")], NO_GLOBAL, at_midnight(D), channels=WITH_POSTCARDS)
    assert decisions(con) == {"postal_only": ("email", "suppressed:no_consent")}


def test_caps_hold_per_channel_and_across_channels_and_a_capped_channel_gives_way_to_the_next(con) -> None:
    # Guards the two kinds of cap: postcards at most once a week makes the next day's campaign fall
    # back to email, and the overall weekly cap then stops both channels.
    write_people(con, {"u": {}})
    campaigns = [make_campaign("a", 10, channels=("postcard", "email"))]
    config = PolicyConfig(global_holdout_share=0.0, max_per_week=2, channel_max_per_week={"postcard": 1})
    for day in DAYS[:3]:
        run_policy(con, day, campaigns, config, at_midnight(day), channels=WITH_POSTCARDS)
        record_sends(con, day)
    assert [decisions(con, day)["u"] for day in DAYS[:3]] == [
        ("postcard", "chosen"),
        ("email", "chosen"),
        ("email", "frequency_cap"),  # postcards capped, so email would have gone: capped overall
    ]
    sent = con.execute("select channel, count(*) from delivery.campaign_sends group by 1 order by 1")
    assert sent.fetchall() == [("email", 1), ("postcard", 1)]


def test_a_channel_cooldown_spaces_its_messages_whatever_the_campaign(con) -> None:
    # Guards the per-channel cooldown: a second campaign may not send a postcard the day after the
    # first one did, so it takes email instead.
    write_people(con, {"u": {}})
    first = make_campaign("a", 10, channels=("postcard",))
    second = make_campaign("b", 20, channels=("postcard", "email"))
    config = PolicyConfig(global_holdout_share=0.0, max_per_week=5, channel_cooldown_days={"postcard": 3})
    run_policy(con, D, [first], config, at_midnight(D), channels=WITH_POSTCARDS)
    record_sends(con, D)
    run_policy(con, DAYS[1], [first, second], config, at_midnight(DAYS[1]), channels=WITH_POSTCARDS)
    rows = con.execute(
        "select campaign_id, channel, reason from interventions.decisions where run_date = ? order by 1",
        [DAYS[1]],
    ).fetchall()
    assert rows == [("a", "postcard", "cooldown"), ("b", "email", "chosen")]


def test_a_user_offered_two_channels_by_two_campaigns_still_gets_one_message_a_day(con) -> None:
    # Guards one winner per user and day across channels: two campaigns on two channels do not each
    # send because their channels differ.
    write_people(con, {"u": {}})
    campaigns = [make_campaign("a", 10, channels=("postcard",)), make_campaign("b", 20, channels=("email",))]
    config = PolicyConfig(global_holdout_share=0.0, max_per_day=5, max_per_week=5)
    run_policy(con, D, campaigns, config, at_midnight(D), channels=WITH_POSTCARDS)
    rows = con.execute(
        "select campaign_id, channel, reason from interventions.decisions order by 1"
    ).fetchall()
    assert rows == [("a", "postcard", "chosen"), ("b", "email", "lower_priority")]


def test_each_channel_sends_within_its_own_quiet_hours(con) -> None:
    # Guards quiet hours per channel: email keeps the policy's window (8-20), the postcard channel
    # its own (9-17), so a preferred hour of 19 is 19:00 by email and 16:00 by postcard.
    write_people(con, {"mail": {"postal_consent": "withdrawn", "preferred_local_hour": 19},
                       "post": {"preferred_local_hour": 19}})  # fmt: skip
    campaign = make_campaign("k", channels=("postcard", "email"))
    run_policy(con, D, [campaign], NO_GLOBAL, at_midnight(D), channels=WITH_POSTCARDS)
    times = con.execute(
        "select customer_id, channel, hour(timezone('UTC', scheduled_send_at_utc))"
        " from interventions.intervention_list order by 1"
    ).fetchall()
    assert times == [("mail", "email", 19), ("post", "postcard", 16)]


def test_a_per_channel_setting_naming_no_channel_is_refused(con) -> None:
    # Guards a misspelt channel in the policy config, which would otherwise cap nobody.
    write_people(con, {"u": {}})
    config = PolicyConfig(channel_max_per_day={"emial": 1})
    with pytest.raises(PolicyError, match="channel_max_per_day names emial, not a channel"):
        run_policy(con, D, [make_campaign("k")], config, at_midnight(D))
