"""Nobody is mailed whose consent is in doubt: CRM rows and webhook records refused at ingest still count.

The regression: a CRM row withdrawing consent was refused at ingest (an unparseable or future
consent_updated_at, a consent value like `opted_out`), the older consent=true snapshot won, and the
person was emailed the same day; an `Unsubscribe` with a capital U, or an unsubscribe refused for its
timestamp, never suppressed the address. Each test reads one world built once through the real path
(export files, ingest, the dbt models, the policy; consent_world.py).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from consent_world import RUN_DATE, ConsentWorld, Decisions, customer_row, email_event_row, stamp

pytestmark = pytest.mark.e2e

YESTERDAY = RUN_DATE - timedelta(days=1)
CUSTOMERS = [
    "c_ok",
    "c_bad_consent_time",
    "c_opted_out",
    "c_future_consent_time",
    "c_unknown_consent_word",
    "c_refused_grant",
    "c_superseded_in_file",
    "c_no_customer_id",
    "c_fixed_today",
    "u_capital_unsubscribe",
    "u_unsubscribe_bad_time",
    "u_bounce_bad_run_date",
    "u_dropped",
    "u_hyphenated_group_unsubscribe",
    "u_spaced_spam_report_bad_time",
]


@pytest.fixture(scope="module")
def decisions(tmp_path_factory: pytest.TempPathFactory) -> Decisions:
    world = ConsentWorld(tmp_path_factory.mktemp("consent"))
    # Yesterday everyone agreed, except c_fixed_today, whose row was refused (unknown time zone).
    world.write_customers(
        YESTERDAY,
        [customer_row(c, YESTERDAY) for c in CUSTOMERS if c != "c_fixed_today"]
        + [customer_row("c_fixed_today", YESTERDAY, timezone="Mars/Olympus_Mons")],
    )
    world.write_customers(
        RUN_DATE,
        [
            customer_row("c_ok", RUN_DATE),
            customer_row(
                "c_bad_consent_time", RUN_DATE, consent=False, consent_updated_at="2026-12-05T25:00:00Z"
            ),
            customer_row("c_opted_out", RUN_DATE, marketing_consent="opted_out"),
            customer_row(
                "c_future_consent_time",
                RUN_DATE,
                consent=False,
                consent_updated_at=stamp(RUN_DATE + timedelta(days=2)),
            ),
            customer_row("c_unknown_consent_word", RUN_DATE, marketing_consent="maybe"),
            customer_row("c_refused_grant", RUN_DATE, timezone="Atlantis/Capital"),
            # an older row superseded by a later one in the same file refused nothing
            customer_row("c_superseded_in_file", RUN_DATE, consent=False, second=1),
            customer_row("c_superseded_in_file", RUN_DATE, second=2),
            # the id is lost, the address is not: that address is not mailed
            customer_row("c_no_customer_id", RUN_DATE, consent=False, customer_id=""),
            customer_row("c_fixed_today", RUN_DATE),
        ],
    )
    world.write_email_events(
        RUN_DATE,
        [
            email_event_row(" U_Capital_Unsubscribe@Example.COM ", "Unsubscribe", RUN_DATE),
            email_event_row("u_unsubscribe_bad_time@example.com", "unsubscribe", RUN_DATE, timestamp="soon"),
            email_event_row("u_bounce_bad_run_date@example.com", "bounce", RUN_DATE, run_date="2026-13-01"),
            email_event_row("u_dropped@example.com", "dropped", RUN_DATE, reason="Bounced Address"),
            email_event_row("u_hyphenated_group_unsubscribe@example.com", "Group-Unsubscribe", RUN_DATE),
            email_event_row(
                "u_spaced_spam_report_bad_time@example.com", "Spam Report", RUN_DATE, timestamp="x"
            ),
        ],
    )
    return world.run([YESTERDAY, RUN_DATE])


def test_only_customers_whose_consent_is_beyond_doubt_are_mailed(decisions: Decisions) -> None:
    # Guards the whole finding: all the people below were mailed before; the three listed must still be.
    assert set(decisions.reasons) == set(CUSTOMERS)
    assert decisions.listed == {
        "c_ok",
        # a row superseded by a later one in its own file refused nothing
        "c_superseded_in_file",
        # yesterday's refused row is older than today's valid snapshot, which lifts it
        "c_fixed_today",
    }


def test_a_withdrawal_refused_for_an_unparseable_consent_time_is_still_a_withdrawal(
    decisions: Decisions,
) -> None:
    # Guards: `2026-12-05T25:00:00Z` refused the row, and yesterday's consent=true won.
    assert decisions.reasons["c_bad_consent_time"] == "suppressed:no_consent"


def test_a_consent_value_like_opted_out_is_read_as_a_withdrawal(decisions: Decisions) -> None:
    # Guards: `opted_out` is no boolean ingest knows, so the withdrawal was refused and lost.
    assert decisions.reasons["c_opted_out"] == "suppressed:no_consent"


def test_a_withdrawal_refused_for_a_consent_time_in_the_future_is_still_a_withdrawal(
    decisions: Decisions,
) -> None:
    # Guards: a consent_updated_at two days ahead refused the row, and the older grant won.
    assert decisions.reasons["c_future_consent_time"] == "suppressed:no_consent"


def test_a_newest_row_refused_for_any_other_reason_holds_the_customer_back_as_unverified(
    decisions: Decisions,
) -> None:
    # Guards: any refused newest row (here `maybe`, an unknown time zone) let the older snapshot win.
    assert decisions.reasons["c_unknown_consent_word"] == "suppressed:unverified_profile"
    assert decisions.reasons["c_refused_grant"] == "suppressed:unverified_profile"
    assert decisions.unverified_profiles == 2


def test_a_refused_withdrawal_without_a_customer_id_suppresses_its_address(decisions: Decisions) -> None:
    # Guards: a refused row without an id was tied to nobody; its address names the customer.
    assert decisions.reasons["c_no_customer_id"] == "suppressed:no_consent"


def test_an_unsubscribe_with_a_capital_u_and_a_mixed_case_address_suppresses(decisions: Decisions) -> None:
    # Guards: `Unsubscribe` was refused as not a SendGrid event type (now normalised at ingest).
    assert decisions.reasons["u_capital_unsubscribe"] == "suppressed:unsubscribe"


def test_suppression_events_refused_for_a_secondary_field_still_suppress_the_address(
    decisions: Decisions,
) -> None:
    # Guards: an unsubscribe or bounce refused for its timestamp or run_date never suppressed.
    assert decisions.reasons["u_unsubscribe_bad_time"] == "suppressed:unsubscribe"
    assert decisions.reasons["u_bounce_bad_run_date"] == "suppressed:bounce"


def test_an_event_type_spelt_with_other_separators_suppresses_loaded_or_refused(decisions: Decisions) -> None:
    # Guards `Group-Unsubscribe` and `Spam Report` being refused as unknown types (and, refused for a
    # bad timestamp, read back in dbt under a name no suppression matched): the address stayed mailable.
    assert decisions.reasons["u_hyphenated_group_unsubscribe"] == "suppressed:group_unsubscribe"
    assert decisions.reasons["u_spaced_spam_report_bad_time"] == "suppressed:spamreport"


def test_a_dropped_message_suppresses_the_address(decisions: Decisions) -> None:
    # Guards: fct_email_suppressions ignored `dropped`, though SendGrid refuses such addresses.
    assert decisions.reasons["u_dropped"] == "suppressed:dropped"
