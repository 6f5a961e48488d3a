"""Measurement of texts beside emails, on a real DuckDB file: each message matched to its own channel's
provider events (a text's Twilio status callbacks by the send id they carry), a STOP reply as the text's
unsubscribe, opens and clicks null (never zero) for texts, and a campaign on two channels measured per
channel against the held-out users it would have reached on each."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from reengage.defs.measurement.analysis import CampaignPlan, analyse, write_tables
from reengage.defs.measurement.config import MeasurementConfig
from reengage.defs.measurement.outcomes import compute_outcomes
from reengage.defs.measurement.report import build_report
from reengage.defs.measurement.results import compute_campaign_results
from reengage.tables import as_frame

from .measurement_world import write_warehouse
from .report_frames import html_tables, no_report_data

DAY = date(2025, 6, 1)
AT = datetime(2025, 6, 1, 10)
RUN_DATE = DAY + timedelta(days=20)  # every window (7 days) closed
TARGETS = pd.DataFrame(
    [{"campaign_id": "both", "target_event": "purchase", "attribution_window_days": 7}]
)  # fmt: skip
PLANS = {"both": CampaignPlan("both", 0.3, {"control": 1.0}, "control", "Email, else a text")}


def phone(i: int) -> str:
    return f"+1555{i:07d}"


def build(
    con: duckdb.DuckDBPyConnection,
    rows: list[tuple[str, str, str]],
    texts: list[tuple] = (),
    emails: list[tuple] = (),
    purchases: list[tuple[str, datetime]] = (),
) -> None:
    """`rows`: (customer, channel, arm) of campaign 'both' assigned on DAY; `texts`: status callbacks
    and replies (send_id, phone, message_status, is_opt_out, event_at); `emails`: (send_id, email,
    event, event_at)."""

    def contact(customer: str, channel: str) -> str:
        return phone(int(customer[1:])) if channel == "sms" else f"{customer}@x.test"

    lists = [
        (f"s_{customer}", DAY, customer, contact(customer, channel), "both", "control", arm, AT)
        for customer, channel, arm in rows
    ]
    sends = [
        (sid, DAY, c, "both", "control", "accepted")
        for sid, _, c, _, _, _, arm, _ in lists
        if arm == "treatment"
    ]
    events = [(customer, "purchase", at, 20.0) for customer, at in purchases] or [
        ("u0", "page_view", AT, None)
    ]
    write_warehouse(con, lists, sends, list(emails) or [("none", "none@x.test", "processed", AT)], events)
    texted = [f"s_{customer}" for customer, channel, _ in rows if channel == "sms"]
    con.execute(
        "update interventions.intervention_list set channel = 'sms' where list_contains(?, send_id)", [texted]
    )
    con.execute(
        "create or replace table staging.stg_twilio__sms_events (send_id varchar, phone varchar, "
        "message_status varchar, is_opt_out boolean, event_at timestamp)"
    )
    if texts:
        con.executemany("insert into staging.stg_twilio__sms_events values (?, ?, ?, ?, ?)", list(texts))


def delivered(customer: str, minutes: int = 1) -> tuple:
    return (f"s_{customer}", phone(int(customer[1:])), "delivered", False, AT + timedelta(minutes=minutes))


def stop(customer: str, hours: float) -> tuple:
    """A STOP reply from the customer's number: a reply carries no send id."""
    return (None, phone(int(customer[1:])), "received", True, AT + timedelta(hours=hours))


def test_a_text_is_matched_to_its_own_status_callbacks_and_a_stop_reply_is_its_unsubscribe(
    tmp_path: Path,
) -> None:
    # Guards measurement that read email events only: a text's delivery comes from Twilio's status
    # callbacks (by the send id they carry), a failed text is a failure, a STOP reply from its number
    # within the window is its unsubscribe (a held-out user's too), opens and clicks of a text are
    # null (unknown) rather than false, and an email's outcomes are what its SendGrid events say.
    rows = [("u1", "sms", "treatment"), ("u2", "sms", "treatment"), ("u3", "sms", "treatment"),
            ("u4", "sms", "holdout"), ("u5", "email", "treatment"), ("u6", "sms", "treatment")]  # fmt: skip
    texts = [
        delivered("u1"),
        ("s_u2", phone(2), "sent", False, AT + timedelta(seconds=1)),
        ("s_u2", phone(2), "undelivered", False, AT + timedelta(seconds=20)),
        delivered("u3"),
        stop("u3", 2),
        stop("u4", 30),  # a held-out user answering another text of ours
        delivered("u6"),
        stop("u6", 24 * 8),  # after the 7-day window
        # a callback naming the email's send id: a text's events never count for an email
        ("s_u5", phone(99), "undelivered", False, AT + timedelta(minutes=3)),
    ]
    emails = [("s_u5", "u5@x.test", "delivered", AT + timedelta(minutes=1)),
              ("s_u5", "u5@x.test", "open", AT + timedelta(hours=1))]  # fmt: skip
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        build(con, rows, texts, emails, purchases=[("u1", AT + timedelta(days=2))])
        outcomes = compute_outcomes(con, RUN_DATE, TARGETS).set_index("customer_id")
    observed = ["delivered", "bounced", "unsubscribed", "opened", "clicked", "spam_reported"]
    got = {
        c: tuple(None if pd.isna(v) else bool(v) for v in outcomes.loc[c, observed]) for c in outcomes.index
    }
    assert got == {
        "u1": (True, False, False, None, None, None),
        "u2": (False, True, False, None, None, None),
        "u3": (True, False, True, None, None, None),
        "u4": (False, False, True, None, None, None),
        "u5": (True, False, False, True, False, False),
        "u6": (True, False, False, None, None, None),
    }
    assert outcomes.loc["u1", "converted"] and not outcomes.loc["u3", "converted"]
    assert outcomes.loc["u4", "channel"] == "sms"  # the held-out user's would-be channel


def test_daily_results_count_texts_from_callbacks_and_leave_their_opens_and_clicks_null(
    tmp_path: Path,
) -> None:
    # Guards the operational counts per channel: a row of texts counts deliveries from the status
    # callbacks and STOP replies as unsubscribes, and has no opens, clicks or click rate (null, not 0).
    rows = [("u1", "sms", "treatment"), ("u2", "sms", "treatment"), ("u3", "sms", "treatment"),
            ("u5", "email", "treatment")]  # fmt: skip
    texts = [delivered("u1"), delivered("u3"), stop("u3", 1),
             ("s_u2", phone(2), "failed", False, AT + timedelta(seconds=20))]  # fmt: skip
    emails = [("s_u5", "u5@x.test", "delivered", AT), ("s_u5", "u5@x.test", "click", AT + timedelta(hours=1))]
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        build(con, rows, texts, emails)
        results = compute_campaign_results(con, RUN_DATE, TARGETS).set_index("channel")
    sms, email = results.loc["sms"], results.loc["email"]
    assert (sms["assigned"], sms["sent"], sms["delivered"], sms["unsubscribed"]) == (3, 3, 2, 1)
    assert pd.isna(sms["opened"]) and pd.isna(sms["clicked"]) and pd.isna(sms["click_rate"])
    assert (email["delivered"], email["opened"], email["clicked"], email["click_rate"]) == (1, 0, 1, 1.0)


def two_channel_world(con: duckdb.DuckDBPyConnection, stops: int) -> None:
    """Campaign 'both': 300 texted and 100 held-out would-be texted users, 300 emailed and 100 held-out
    would-be emailed ones. Texts lift conversion from 10% to 30%, emails not at all (10% both arms);
    `stops` of the delivered texts are answered STOP; no held-out user replies."""
    rows, texts, purchases = [], [], []
    for i in range(800):
        customer = f"u{i}"
        channel = "sms" if i < 400 else "email"
        arm = "holdout" if i % 4 == 0 else "treatment"
        rows.append((customer, channel, arm))
        k = i % 400
        if channel == "sms" and arm == "treatment":
            texts.append(delivered(customer))
            if k < 4 * stops and k % 4 == 1:  # the first `stops` treated texts
                texts.append(stop(customer, 3))
        tenths = 3 if channel == "sms" and arm == "treatment" else 1
        if (k // 4) % 10 < tenths:
            purchases.append((customer, AT + timedelta(days=1)))
    emails = [(f"s_u{i}", f"u{i}@x.test", "delivered", AT) for i in range(400, 800) if i % 4]
    build(con, rows, texts, emails, purchases)


def test_a_campaign_on_two_channels_is_measured_per_channel_against_its_own_would_be_holdout(
    tmp_path: Path,
) -> None:
    # Guards per-channel results: each channel's lift compares its treated users with the held-out
    # users the campaign would have reached on it (never an invented holdout), the overall row sums
    # both, opens and clicks of texts are null, and the SMS opt-out guardrail trips on its own limit.
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        two_channel_world(con, stops=9)
        outcomes = compute_outcomes(con, RUN_DATE, TARGETS)
        tables = analyse(outcomes, PLANS, RUN_DATE, MeasurementConfig())
        write_tables(con, tables, outcomes)
        stored = as_frame(con.execute("select * from measurement.campaign_channels order by channel"))
    by = tables.channels.set_index("channel")
    assert sorted(by.index) == ["all", "email", "sms"]
    sms, email, both = by.loc["sms"], by.loc["email"], by.loc["all"]
    assert (sms["treated"], sms["held_out"], sms["delivered"], sms["opted_out"]) == (300, 100, 300, 9)
    assert pd.isna(sms["opened"]) and pd.isna(sms["clicked"]) and pd.isna(sms["click_through_rate"])
    assert (email["opened"], email["clicked"]) == (0, 0)
    assert sms["conversion_treated"] == pytest.approx(0.3) and sms["conversion_held_out"] == pytest.approx(
        0.1
    )
    assert sms["abs_lift"] == pytest.approx(0.2) and sms["abs_ci_low"] > 0 and bool(sms["enough_users"])
    assert email["abs_lift"] == pytest.approx(0.0) and email["abs_ci_low"] < 0 < email["abs_ci_high"]
    assert (both["treated"], both["held_out"], both["opted_out"]) == (600, 200, 9)
    assert len(stored) == 3 and stored["opened"].isna().tolist() == [False, False, True]
    guard = tables.guardrails.set_index("metric")
    assert sorted(guard.index) == ["bounce_rate", "sms_opt_out_rate", "spam_rate", "unsubscribe_rate"]
    # 9 STOPs of 300 delivered texts (3%, no held-out STOP) over the 1% limit; emails count only emails
    assert (
        guard.loc["sms_opt_out_rate", "numerator"] == 9
        and guard.loc["sms_opt_out_rate", "denominator"] == 300
    )
    assert (
        bool(guard.loc["sms_opt_out_rate", "breached"])
        and guard.loc["unsubscribe_rate", "denominator"] == 300
    )
    assert not bool(guard.loc["unsubscribe_rate", "breached"])
    assert "sms_opt_out_rate" in tables.pauses.iloc[0]["reason"] and bool(tables.pauses.iloc[0]["paused"])


def test_the_sms_opt_out_limit_is_its_own_setting_and_a_campaign_may_raise_it(tmp_path: Path) -> None:
    # Guards a separate limit for texts: raising the email unsubscribe limit leaves texts' limit alone,
    # and the campaign's own override of max_sms_opt_out_rate lets its 3% pass.
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        two_channel_world(con, stops=9)
        outcomes = compute_outcomes(con, RUN_DATE, TARGETS)
    email_raised = MeasurementConfig(campaign_limits={"both": {"max_unsubscribe_rate": 0.5}})
    sms_raised = MeasurementConfig(campaign_limits={"both": {"max_sms_opt_out_rate": 0.05}})
    assert bool(analyse(outcomes, PLANS, RUN_DATE, email_raised).pauses.iloc[0]["paused"])
    relaxed = analyse(outcomes, PLANS, RUN_DATE, sms_raised)
    assert not bool(relaxed.pauses.iloc[0]["paused"])
    assert relaxed.guardrails.set_index("metric").loc["sms_opt_out_rate", "limit_value"] == 0.05


def test_a_channel_with_too_few_users_in_an_arm_shows_no_lift(tmp_path: Path) -> None:
    # Guards a per-channel lift drawn from a handful of held-out users: below min_per_channel_arm in
    # either arm the channel's lift is left out, and the report says why instead of a number.
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        two_channel_world(con, stops=0)
        outcomes = compute_outcomes(con, RUN_DATE, TARGETS)
    tables = analyse(outcomes, PLANS, RUN_DATE, MeasurementConfig(min_per_channel_arm=101))
    by = tables.channels.set_index("channel")
    assert (
        by.loc[["sms", "email"], "abs_lift"].isna().all()
        and not by.loc[["sms", "email"], "enough_users"].any()
    )
    assert bool(by.loc["all", "enough_users"]) and not pd.isna(by.loc["all", "abs_lift"])  # 600 and 200 users
    page = html_tables(
        build_report(tables, no_report_data(), PLANS, MeasurementConfig(min_per_channel_arm=101)).html
    )
    [sms] = page["By channel: SMS"]
    assert sms["lift [95% interval]"].startswith("not yet: 300 treated and 100 held-out users")


def test_the_report_has_a_section_per_channel_with_n_a_for_the_opens_and_clicks_of_texts(
    tmp_path: Path,
) -> None:
    # Guards a report that read 0% opened for texts: the SMS section shows deliveries, failures and
    # opt-outs of texts, "n/a for texts" where email has opens and clicks, and its own lift.
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        two_channel_world(con, stops=9)
        outcomes = compute_outcomes(con, RUN_DATE, TARGETS)
    report = build_report(analyse(outcomes, PLANS, RUN_DATE, MeasurementConfig()), no_report_data(), PLANS)
    page = html_tables(report.html)
    [sms], [email], [both] = (
        page["By channel: SMS"],
        page["By channel: Email"],
        page["By channel: all channels together"],
    )
    assert (sms["treated users"], sms["held-out users"], sms["delivered"], sms["opted out"]) == (
        "300",
        "100",
        "300",
        "9",
    )
    assert (sms["opened"], sms["clicked"], sms["click-through rate"]) == ("n/a for texts",) * 3
    assert sms["opt-out rate"] == "3.00%" and sms["lift [95% interval]"].startswith("+20.0 pts [")
    assert (email["opened"], email["click-through rate"]) == ("0", "0.0%")
    assert both["treated users"] == "600"
    assert "## By channel: SMS" in report.markdown
