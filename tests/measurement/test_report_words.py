"""The report in plain words: column names, the glossary, and one sentence per campaign on what to do."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as hs

from reengage.defs.measurement import stats as st
from reengage.defs.measurement.analysis import INSUFFICIENT, NO_DIFFERENCE, SRM_HOLD, WINNER, WORSE
from reengage.defs.measurement.config import MeasurementConfig
from reengage.defs.measurement.display import DISPLAY_NAMES
from reengage.defs.measurement.report import build_report
from reengage.defs.measurement.report.glossary import GLOSSARY
from reengage.defs.measurement.report.verdict import verdict

from .report_frames import PLAN, html_tables, no_report_data, summary_row, tables

CONFIG = MeasurementConfig()


def test_a_row_that_shows_a_time_to_convert_shows_the_conversions_it_is_the_time_of() -> None:
    # Guards "converted 0 beside time to convert 4 h": the row showed the conversions of users whose
    # window had closed beside the time to convert of every converted user.
    t = tables(
        summary=[
            summary_row(
                "treatment", assigned=40, sent=40, delivered=38, converted=3, median_hours_to_convert=4.0
            ),
            summary_row(
                "holdout",
                assigned=10,
                matured=10,
                converted=1,
                converted_matured=1,
                conversion_rate=0.1,
                median_hours_to_convert=30.0,
            ),
        ]  # fmt: skip
    )
    rows = html_tables(build_report(t, no_report_data(), {"win_back": PLAN}).html)[
        "Users by campaign, variant and arm"
    ]
    for row in rows:  # a time to convert is shown exactly when some conversion is
        time = next(value for header, value in row.items() if header.startswith("time to convert"))
        assert (row["converted"] == "0") == (time == "n/a"), row
    treated = next(r for r in rows if r["arm"] == "treatment")
    assert (treated["converted"], treated["time to convert (median)"]) == ("3", "4 h")
    assert (treated["users whose window closed"], treated["converted, window closed"]) == ("0", "0")
    assert treated["conversion rate"] == "n/a"
    held = next(r for r in rows if r["arm"] == "holdout")
    closed = (held["converted, window closed"], held["users whose window closed"], held["conversion rate"])
    assert closed == ("1", "10", "10.0%")


def test_the_reports_tables_name_their_columns_in_words_a_person_reads() -> None:
    # Guards column names such as conversion_rate, campaign_id, p (BH) and P(beat) in the report.
    t = tables(summary=[summary_row("treatment", assigned=5)], comparisons=[comparison(NO_DIFFERENCE)])
    page_tables = html_tables(build_report(t, no_report_data(), {"win_back": PLAN}).html)
    headers = {h for rows in page_tables.values() for row in rows for h in row}
    assert {"conversion rate", "campaign", "adjusted p-value", "chance to beat control",
            "variance-reduced lift", "sequential test"} <= headers  # fmt: skip
    assert not [h for h in headers if "_" in h or h in ("p (BH)", "P(beat)", "CUPED lift")]
    assert set(DISPLAY_NAMES.values()) >= headers - {"measure"}


def test_the_glossary_defines_every_statistical_word_the_report_shows() -> None:
    # Guards a report whose statistics a marketer cannot read without asking an analyst.
    page = build_report(tables(), no_report_data(), {}).html
    glossary = page.split("<h2>Glossary</h2>")[1].split("</dl>")[0]
    terms = {term for term, _ in GLOSSARY}
    assert {"sequential test", "adjusted p-value", "chance to beat control", "variance-reduced lift",
            "95% interval", "sample ratio check", "guardrail", "holdout", "lift"} <= terms  # fmt: skip
    for term, meaning in GLOSSARY:
        assert f"<dt>{term}</dt>" in glossary and meaning.split(" ")[0] in glossary
        assert "_" not in meaning


# --- one sentence per campaign: keep, stop or wait ---------------------------------------------


def comparison(decision: str, **row: float) -> dict:
    figures = {
        "campaign_id": "win_back", "comparison": "treatment_vs_holdout", "variant": "all",
        "baseline": "holdout", "metric": "conversion", "n_baseline": 400, "x_baseline": 40,
        "n_variant": 1600, "x_variant": 240, "value_baseline": 0.10, "value_variant": 0.15,
        "abs_lift": 0.05, "abs_ci_low": 0.02, "abs_ci_high": 0.08, "decision": decision,
    }  # fmt: skip
    return {**figures, **row}


def guardrail(breached: bool) -> dict:
    return {
        "campaign_id": "win_back", "variant": "all", "metric": "unsubscribe_rate", "numerator": 40,
        "denominator": 1000, "rate": 0.04, "holdout_rate": 0.005, "limit_value": 0.01, "breached": breached,
    }  # fmt: skip


USERS = [summary_row("treatment", assigned=1600), summary_row("holdout", assigned=400)]


def say(**rows: list[dict]) -> str:
    return verdict("win_back", tables(summary=USERS, **rows), PLAN, CONFIG)


def test_a_campaign_that_wins_with_every_guardrail_fine_is_kept() -> None:
    sentence = say(comparisons=[comparison(WINNER)], guardrails=[guardrail(False)])
    assert sentence.startswith("Keep: treated users convert (purchase) 5.0 points more often")
    assert "15.0% against 10.0%" in sentence and "every guardrail is fine" in sentence


def test_a_breached_guardrail_stops_a_campaign_even_when_it_wins() -> None:
    # Guards the order of harm: a winner that makes people unsubscribe is not kept.
    sentence = say(
        comparisons=[comparison(WINNER)],
        guardrails=[guardrail(True)],
        pauses=[{"campaign_id": "win_back", "paused": True, "reason": "unsubscribe_rate 4.00%"}],
    )
    assert sentence == (
        "Stop: the unsubscribe rate is 4.00%, over its limit of 1.00% above the holdout's "
        "(it is paused from tomorrow)."
    )


def test_a_campaign_the_sequential_test_finds_harmful_is_stopped() -> None:
    sentence = say(comparisons=[comparison(WORSE, abs_lift=-0.03, value_variant=0.07)])
    assert sentence.startswith("Stop: treated users convert (purchase) 3.0 points less often")


def test_a_campaign_with_too_few_closed_windows_waits_and_says_how_many_more_it_needs() -> None:
    sentence = say(comparisons=[comparison(INSUFFICIENT, n_baseline=30, n_variant=250)])
    assert sentence.startswith("Wait: too few users' windows have closed")
    assert "has 250 treated and 30 held out, so 70 more held-out users whose window has closed" in sentence


def test_a_campaign_whose_windows_are_all_open_waits_for_its_first_windows() -> None:
    sentence = say(comparisons=[comparison(INSUFFICIENT, n_baseline=0, n_variant=0)])
    assert sentence.startswith("Wait: no user's 7-day window has closed yet")


def test_a_campaign_with_no_clear_difference_waits_for_the_users_the_sequential_test_needs() -> None:
    row = comparison(NO_DIFFERENCE, n_baseline=100, x_baseline=10, n_variant=400, x_variant=64, abs_lift=0.06)
    sentence = say(comparisons=[row])
    k = st.users_to_decide(10, 100, 64, 400, CONFIG.msprt_tau, CONFIG.alpha)
    assert k is not None and 3 < k < 5
    assert sentence.startswith("Wait: no clear difference from the holdout yet (lift so far +6.0 pts)")
    assert f"decides at about {math.ceil(k * 400):,} treated and {math.ceil(k * 100):,} held-out" in sentence


def test_a_campaign_whose_lift_is_too_small_to_settle_says_so() -> None:
    row = comparison(NO_DIFFERENCE, n_baseline=100, x_baseline=10, n_variant=400, x_variant=52, abs_lift=0.03)
    assert "more than ten times the users it has" in say(comparisons=[row])


def test_a_campaign_whose_groups_do_not_match_the_plan_waits_for_the_cause() -> None:
    assert "sample ratio check" in say(comparisons=[comparison(SRM_HOLD)])


def test_a_campaign_nobody_was_assigned_to_or_nobody_held_out_waits_and_says_why() -> None:
    assert verdict("win_back", tables(), PLAN, CONFIG) == (
        "Wait: nobody has been assigned to this campaign yet."
    )
    assert "holds nobody out" in verdict("win_back", tables(summary=USERS[:1]), PLAN, CONFIG)
    assert "every user so far was held out" in verdict("win_back", tables(summary=USERS[1:]), PLAN, CONFIG)


def test_every_campaign_of_the_report_opens_with_its_verdict_planned_ones_without_users_included() -> None:
    # Guards a campaign card that said nothing about what to do (a campaign with only held-out users
    # had no line at all, and a campaign nobody was assigned to was missing).
    other = PLAN.__class__("quiet", 0.1, {"control": 1.0}, "control", "Quiet", "purchase", 7)
    report = build_report(
        tables(summary=USERS, comparisons=[comparison(WINNER)]),
        no_report_data(),
        {"win_back": PLAN, "quiet": other},
    )
    assert "<p class='verdict'>Keep: treated users convert" in report.html
    assert "<p class='verdict'>Wait: nobody has been assigned to this campaign yet.</p>" in report.html
    assert "**Keep: treated users convert" in report.markdown


@given(
    n_a=hs.integers(20, 3000), n_b=hs.integers(20, 3000), p_a=hs.floats(0.01, 0.5), lift=hs.floats(-0.3, 0.3)
)
def test_the_users_the_sequential_test_needs_are_the_fewest_at_which_it_decides(
    n_a: int, n_b: int, p_a: float, lift: float
) -> None:
    x_a, x_b = round(p_a * n_a), round(min(max(p_a + lift, 0.0), 1.0) * n_b)
    k = st.users_to_decide(x_a, n_a, x_b, n_b, tau=0.05)

    def p(k: float) -> float:
        return st.msprt(k * x_a, k * n_a, k * x_b, k * n_b, tau=0.05).p_value

    if k is None:
        assert x_a * n_b == x_b * n_a or p(10.0) > 0.05
    elif k == 1.0:
        assert p(1.0) <= 0.05
    else:  # the fewest: no smaller number decides (scanned in steps of 5% of today's users)
        assert p(k) <= 0.05
        assert all(p(f) > 0.05 for f in np.arange(1.0, k - 0.05, 0.05))


@pytest.mark.parametrize("x_a,n_a,x_b,n_b", [(10, 100, 40, 400), (0, 0, 5, 10), (3, 10, 0, 0)])
def test_a_test_with_equal_rates_or_an_empty_arm_has_no_number_of_users_to_decide(
    x_a: int, n_a: int, x_b: int, n_b: int
) -> None:
    assert st.users_to_decide(x_a, n_a, x_b, n_b, tau=0.05) is None
