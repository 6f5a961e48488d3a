"""The report's plots read as a person expects: date axes span the data, empty panels say why in words."""

from __future__ import annotations

from datetime import date, timedelta

import matplotlib.dates as mdates
import pandas as pd
import pytest

from reengage.defs.measurement.report import plots

from .report_frames import DAY


def daily_row(campaign: str, day: date, matured: bool, **rates: float) -> dict:
    nan = float("nan")
    figures = {
        "open_rate": 0.3,
        "click_rate": 0.05,
        "abs_lift": 0.02,
        "abs_ci_low": -0.01,
        "abs_ci_high": 0.05,
    }
    return {
        "run_date": DAY, "campaign_id": campaign, "assigned_date": day, "matured": matured, "n_treatment": 90,
        "n_holdout": 10, "conversion_treatment": nan, "conversion_holdout": nan, **figures, **rates,
    }  # fmt: skip


def x_days(ax) -> float:  # noqa: ANN001
    low, high = ax.get_xlim()
    return high - low  # matplotlib's date unit is a day


def test_a_single_day_spans_a_few_days_not_years() -> None:
    # Guards the lift-over-time axis that ran from 2025 to 2029 around the one day users entered.
    low, high = plots.date_span(pd.Series([DAY]))
    assert high - low == pd.Timedelta(days=4)
    assert low < pd.Timestamp(DAY) < high


@pytest.mark.parametrize("days", [2, 10, 40])
def test_several_days_span_exactly_their_days_with_half_a_day_either_side(days: int) -> None:
    dates = pd.Series([DAY - timedelta(days=k) for k in range(days)])
    low, high = plots.date_span(dates)
    width = max(days, 4)
    assert high - low == pd.Timedelta(days=width)
    assert low <= pd.Timestamp(DAY - timedelta(days=days - 1)) - pd.Timedelta(hours=12)
    assert high >= pd.Timestamp(DAY) + pd.Timedelta(hours=12)


def test_the_lift_over_time_of_one_day_draws_a_few_days_and_a_panel_without_data_says_why_in_words() -> None:
    # Guards the 2025-2029 axis around one point and the empty panel drawn as axes dated 1970: a
    # campaign whose only day's window is open, and one with no message delivered, have no axes but words.
    daily = pd.DataFrame(
        [
            daily_row("win_back", DAY, matured=True),
            daily_row("welcome", DAY, matured=False),
            daily_row("quiet", DAY, matured=False, open_rate=float("nan"), click_rate=float("nan")),
        ]
    )
    figure = plots.lift_over_time_figure(daily)
    panels = {(ax.get_title(loc="left").split("\n")[0], ax.get_title(loc="left").split("\n")[1][:5]): ax
              for ax in figure.axes}  # fmt: skip
    for campaign, kind in (("win_back", "conve"), ("win_back", "opens"), ("welcome", "opens")):
        ax = panels[(campaign, kind)]
        assert ax.axison and x_days(ax) == pytest.approx(4.0), (campaign, kind)
        assert mdates.num2date(ax.get_xlim()[0]).year == DAY.year
    words = {key: " ".join(t.get_text() for t in ax.texts) for key, ax in panels.items() if not ax.axison}
    assert words == {
        ("welcome", "conve"): plots.NO_MATURED_DAY,
        ("quiet", "conve"): plots.NO_MATURED_DAY,
        ("quiet", "opens"): plots.NO_DELIVERED,
    }


def test_the_lift_over_time_titles_do_not_overlap() -> None:
    # Guards the figure's title printed over the first panel's title, and panel titles running into
    # each other: every title's box is apart from every other's once drawn.
    daily = pd.DataFrame(
        [
            daily_row(c, DAY - timedelta(days=k), matured=k > 2)
            for c in ("a_long_campaign_name", "b")
            for k in range(6)
        ]
    )
    figure = plots.lift_over_time_figure(daily)
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    # The panels' titles are left-aligned ones (matplotlib keeps them apart from the centred title).
    boxes = [figure._suptitle.get_window_extent(renderer)] + [
        ax._left_title.get_window_extent(renderer) for ax in figure.axes
    ]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert not a.overlaps(b)


def test_the_funnel_writes_no_value_on_bars_too_narrow_for_it() -> None:
    # Guards the funnel's percentages printed over each other when many campaigns share a step.
    steps = dict.fromkeys(plots.FUNNEL_STEPS, 10)
    many = pd.DataFrame([{"campaign_id": f"c{k}", "arm": "treatment", **steps} for k in range(6)])
    few = many.head(plots.LABELLED_CAMPAIGNS)
    assert len(plots.funnel_figure(many).axes[0].texts) == 0
    assert len(plots.funnel_figure(few).axes[0].texts) == plots.LABELLED_CAMPAIGNS * len(plots.FUNNEL_STEPS)
