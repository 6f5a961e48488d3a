"""The report in plain words: column names, the glossary, and one sentence per campaign on what to do."""

from __future__ import annotations

import html
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as hs

from reengage.defs.measurement import stats as st
from reengage.defs.measurement.analysis import INSUFFICIENT, NO_DIFFERENCE, SRM_HOLD, WINNER, WORSE
from reengage.defs.measurement.config import MeasurementConfig
from reengage.defs.measurement.display import DISPLAY_NAMES, TOO_WIDE, relative_lift
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


@pytest.mark.parametrize(
    "lift,low,high,shown",
    [
        (0.5, 0.2, 0.8, "+50% [+20%, +80%]"),
        (0.5, -0.5, 1.5, "+50% [-50%, +150%]"),  # 200 points wide: the widest shown
        (0.5, -0.6, 1.5, TOO_WIDE),
        (4.0, -3.0, 20.0, TOO_WIDE),  # a compared-with rate near zero
        (4.0, float("-inf"), float("inf"), TOO_WIDE),
        (0.1, float("nan"), float("nan"), "+10%"),
        (float("nan"), float("nan"), float("nan"), "n/a"),
    ],
)
def test_a_relative_lift_interval_too_wide_to_mean_anything_reads_too_wide(
    lift: float, low: float, high: float, shown: str
) -> None:
    assert relative_lift(lift, low, high) == shown


def test_the_comparisons_table_leaves_out_comparisons_with_no_figure_and_says_how_many_wait() -> None:
    # Guards a table of rows reading n/a in every figure, and relative lifts of -300% to +2,000%.
    empty = {"n_baseline": 0, "x_baseline": 0, "n_variant": 0, "x_variant": 0, "value_baseline": float("nan"),
             "value_variant": float("nan"), "abs_lift": float("nan"), "abs_ci_low": float("nan"),
             "abs_ci_high": float("nan")}  # fmt: skip
    rows = [
        comparison(NO_DIFFERENCE, rel_lift=0.5, rel_ci_low=0.2, rel_ci_high=0.8),
        comparison(NO_DIFFERENCE, variant="b", comparison="variant_vs_holdout", value_baseline=0.002,
                   abs_lift=0.008, abs_ci_low=-0.006, abs_ci_high=0.04, rel_lift=4.0, rel_ci_low=-3.0,
                   rel_ci_high=20.0),
        comparison(INSUFFICIENT, variant="c", comparison="variant_vs_holdout", **empty),
        comparison(INSUFFICIENT, variant="d", comparison="variant_vs_holdout", **empty),
    ]  # fmt: skip
    report = build_report(tables(summary=USERS, comparisons=rows), no_report_data(), {"win_back": PLAN})
    shown = html_tables(report.html)["Lift against holdout and control"]
    assert [row["variant"] for row in shown] == ["all", "b"]
    assert [row["relative lift"] for row in shown] == ["+50% [+20%, +80%]", TOO_WIDE]
    assert shown[1]["lift [95% interval]"] == "+0.8 pts [-0.6 pts, +4.0 pts]"
    note = (
        "2 comparisons are not shown yet: too few users' windows have closed to compute any of their figures."
    )
    assert f"<p class='muted'>{html.escape(note)}</p>" in report.html and note in report.markdown
    one = build_report(tables(summary=USERS, comparisons=rows[:3]), no_report_data(), {"win_back": PLAN})
    assert "1 comparison is not shown yet" in one.html
    every = build_report(tables(summary=USERS, comparisons=rows[:2]), no_report_data(), {"win_back": PLAN})
    assert "not shown yet" not in every.html
    assert TOO_WIDE in dict(GLOSSARY)["relative lift"], "the glossary says when an interval is too wide"


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


# A campaign measured with settings of its own: 30 users per arm, a 10% level, a narrower mixture.
OWN = {"campaign_id": "win_back", "alpha": 0.10, "msprt_tau": 0.03, "min_per_arm": 30}


def test_the_verdict_judges_by_the_settings_the_campaigns_measurement_used_not_the_defaults() -> None:
    # Guards a verdict that asked for the default 100 users per arm (and sized the test at the default
    # level) for a campaign whose measurement ran with other settings.
    short = say(comparisons=[comparison(INSUFFICIENT, n_baseline=20, n_variant=250)], settings=[OWN])
    assert "it needs 30 in each group and has 250 treated and 20 held out, so 10 more held-out" in short
    row = comparison(NO_DIFFERENCE, n_baseline=100, x_baseline=10, n_variant=400, x_variant=64, abs_lift=0.06)
    k = st.users_to_decide(10, 100, 64, 400, OWN["msprt_tau"], OWN["alpha"])
    default_k = st.users_to_decide(10, 100, 64, 400, CONFIG.msprt_tau, CONFIG.alpha)
    assert k is not None and default_k is not None and math.ceil(k * 400) != math.ceil(default_k * 400)
    sentence = say(comparisons=[row], settings=[OWN])
    assert f"decides at about {math.ceil(k * 400):,} treated and {math.ceil(k * 100):,} held-out" in sentence


def test_the_report_gives_each_campaigns_intervals_at_the_level_it_was_measured_at() -> None:
    winner = comparison(WINNER, seq_ci_low=0.01, seq_ci_high=0.09)
    report = build_report(tables(summary=USERS, comparisons=[winner], settings=[OWN]), no_report_data(), {})
    assert "Intervals are 90%." in report.html
    assert "(90% interval +2.0 pts to +8.0 pts;" in report.html and "95% interval +2" not in report.html
    default = build_report(tables(summary=USERS, comparisons=[winner]), no_report_data(), {})
    assert "Intervals are 95%." in default.html and "(95% interval +2.0 pts to +8.0 pts;" in default.html


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
