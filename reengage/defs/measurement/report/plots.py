"""The report's plots as PNG bytes (matplotlib, Agg backend, no display needed)."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

COLOURS = {"winner": "#1a7f37", "worse": "#cf222e", "no difference yet": "#6e7781"}
BLUE, ORANGE, GREY = "#0969da", "#d4a72c", "#8c959f"


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _empty(title: str, text: str) -> bytes:
    fig, ax = plt.subplots(figsize=(8, 1.6), layout="constrained")
    say(ax, text)
    ax.set_title(title, loc="left")
    return _png(fig)


def lift_intervals(comparisons: pd.DataFrame) -> bytes:
    """Absolute conversion lift with its 95% interval for every comparison (a forest plot)."""
    c = comparisons[comparisons["metric"] == "conversion"].dropna(subset=["abs_lift"])
    title = "Conversion lift with 95% intervals (percentage points)"
    if not len(c):
        return _empty(title, "No matured users to compare yet.")
    c = c.iloc[::-1]
    labels = [
        f"{r.campaign_id}: {r.variant} vs {r.baseline}"
        if r.variant != "all"
        else f"{r.campaign_id}: all vs holdout"
        for r in c.itertuples()
    ]
    fig, ax = plt.subplots(figsize=(9, 0.55 * len(c) + 1.4))
    y = np.arange(len(c))
    for i, r in enumerate(c.itertuples()):
        colour = COLOURS.get(r.decision, GREY)
        ax.errorbar(
            100 * r.abs_lift, i,
            xerr=[[100 * (r.abs_lift - r.abs_ci_low)], [100 * (r.abs_ci_high - r.abs_lift)]],
            fmt="o", color=colour, capsize=4, lw=2,
        )  # fmt: skip
        if np.isfinite(r.seq_ci_low) and np.isfinite(r.seq_ci_high):
            ax.plot(
                [100 * r.seq_ci_low, 100 * r.seq_ci_high], [i - 0.22, i - 0.22], color=colour, lw=1, ls=":"
            )
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(y, labels)
    ax.set_xlabel("lift in conversion rate (points); dotted: always-valid sequential interval")
    ax.set_title(title, loc="left")
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def date_span(dates: pd.Series, least_days: int = 4) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The x range of a date axis: the data's days with half a day either side, and at least
    `least_days` wide, so a single day reads as a day (matplotlib alone spans years around one point)."""
    days = pd.to_datetime(pd.Series(dates)).dropna().dt.normalize()
    if not len(days):
        raise ValueError("a date axis needs at least one date")
    low, high = days.min() - pd.Timedelta(hours=12), days.max() + pd.Timedelta(hours=12)
    missing = pd.Timedelta(days=least_days) - (high - low)
    if missing > pd.Timedelta(0):
        low, high = low - missing / 2, high + missing / 2
    return low, high


def _date_axis(ax, dates: pd.Series) -> None:
    """Days on the x axis (one tick a day or fewer, never hours), spanning the data."""
    low, high = date_span(dates)
    ax.set_xlim(low, high)
    ax.xaxis.set_major_locator(mdates.DayLocator(interval=max(1, (high - low).days // 7 + 1)))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%b %d"))
    ax.tick_params(axis="x", labelrotation=30, labelsize=8)


def say(ax, text: str) -> None:
    """An empty panel says why in words, with no axes (an empty axis would show 1970 or 0 to 1)."""
    ax.axis("off")
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=9, color="#57606a", wrap=True,
            transform=ax.transAxes)  # fmt: skip


NO_MATURED_DAY = "No day's users have a closed window yet:\nthe lift appears once the first windows close."
NO_DELIVERED = "No message delivered yet:\nopen and click rates need delivered messages."


LIFT_OVER_TIME = "Engagement and conversion lift by the day users entered (first assignment)"


def lift_over_time(daily: pd.DataFrame) -> bytes:
    """Per campaign and day users entered: conversion lift vs holdout (matured days), open/click rates."""
    if not len(daily):
        return _empty(LIFT_OVER_TIME, "No assignments yet.")
    return _png(lift_over_time_figure(daily))


def lift_over_time_figure(daily: pd.DataFrame) -> Figure:
    """The figure of `lift_over_time`: a row per campaign, lift on the left, opens and clicks on the right."""
    campaigns = sorted(daily["campaign_id"].unique())
    fig, axes = plt.subplots(
        len(campaigns), 2, figsize=(11, 2.6 * len(campaigns) + 0.6), squeeze=False, layout="constrained"
    )
    for row, campaign in zip(axes, campaigns, strict=True):
        d = daily[daily["campaign_id"] == campaign].sort_values("assigned_date")
        x = pd.to_datetime(d["assigned_date"])
        m = d["matured"].astype(bool).to_numpy()
        lifts = d["abs_lift"].astype(float).notna().to_numpy()
        ax = row[0]
        ax.set_title(f"{campaign}\nconversion lift vs holdout (points)", loc="left", fontsize=9)
        if not (m & lifts).any():
            say(ax, NO_MATURED_DAY)
        else:
            lift = 100 * d["abs_lift"][m]
            below, above = lift - 100 * d["abs_ci_low"][m], 100 * d["abs_ci_high"][m] - lift
            ax.errorbar(
                x[m], lift, yerr=[below, above], color=BLUE, marker="o", capsize=3,
                label="lift (window closed), 95% interval",
            )  # fmt: skip
            if (~m).any():
                ax.plot(x[~m], 100 * d["abs_lift"][~m], color=GREY, marker="o", ls="", label="window open")
            ax.axhline(0, color="black", lw=0.8)
            ax.legend(fontsize=7, loc="best")
            _date_axis(ax, x)
        ax = row[1]
        ax.set_title(f"{campaign}\nopens and clicks of delivered messages (%)", loc="left", fontsize=9)
        rates = d[["open_rate", "click_rate"]].astype(float)
        if not rates.notna().any().any():
            say(ax, NO_DELIVERED)
        else:
            ax.plot(x, 100 * rates["open_rate"], color=ORANGE, marker="o", label="open rate")
            ax.plot(x, 100 * rates["click_rate"], color=BLUE, marker="o", label="click rate")
            ax.set_ylim(bottom=0, top=max(5.0, 110 * float(np.nanmax(rates.to_numpy()))))
            ax.legend(fontsize=7, loc="best")
            _date_axis(ax, x)
    fig.suptitle(LIFT_OVER_TIME, x=0.01, ha="left")
    return fig


def retention(curves: pd.DataFrame) -> bytes:
    """Share of each arm's users active k days after their first assignment (arm, day, share, users)."""
    title = "Retention after first assignment: share of users active k days later"
    if not len(curves):
        return _empty(title, "No activity table (marts.fct_user_daily_activity) or no assignments yet.")
    fig, ax = plt.subplots(figsize=(9, 3.6), layout="constrained")
    for arm, colour in (("treatment", BLUE), ("holdout", ORANGE)):
        c = curves[curves["arm"] == arm].sort_values("day")
        if len(c):
            ax.plot(c["day"], 100 * c["share"], marker="o", color=colour, label=arm)
    last = int(curves["day"].max())
    ax.set_xlim(0.5, max(last, 7) + 0.5)  # whole days, a week at least: one day is not 0.96 to 1.04
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("days after first assignment")
    ax.set_ylabel("% active")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(title, loc="left")
    return _png(fig)


def cohort_heatmap(cohorts: pd.DataFrame) -> bytes:
    """Weekly cohorts of first assignment x weeks since: share of users active (cohort, week, share)."""
    title = "Retention by week of first assignment (share of users active in week k)"
    if not len(cohorts):
        return _empty(title, "No cohorts yet.")
    pivot = cohorts.pivot_table(index="cohort", columns="week", values="share")
    fig, ax = plt.subplots(figsize=(9, 0.4 * len(pivot) + 1.6))
    im = ax.imshow(100 * pivot.to_numpy(), aspect="auto", cmap="Blues", vmin=0)
    ax.set_yticks(range(len(pivot)), [f"week of {pd.Timestamp(c).date()}" for c in pivot.index])
    ax.set_xticks(range(len(pivot.columns)), [f"week {w}" for w in pivot.columns])
    for (i, j), v in np.ndenumerate(pivot.to_numpy()):
        if np.isfinite(v):
            ax.text(j, i, f"{100 * v:.0f}%", ha="center", va="center", fontsize=8)
    fig.colorbar(im, ax=ax, label="% active")
    ax.set_title(title, loc="left")
    return _png(fig)


FUNNEL_STEPS = ("assigned", "sent", "delivered", "opened", "clicked", "converted")


FUNNEL = "Funnel of treated users: where they drop off"


def funnel(summary: pd.DataFrame) -> bytes:
    t = summary[summary["arm"] == "treatment"] if len(summary) else summary
    if not len(t):
        return _empty(FUNNEL, "No treated users yet.")
    return _png(funnel_figure(t))


def funnel_figure(treated: pd.DataFrame) -> Figure:
    """Per campaign, the share of its treated users reaching each step (`summary` rows of one arm)."""
    per = treated.groupby("campaign_id")[list(FUNNEL_STEPS)].sum()
    fig, ax = plt.subplots(figsize=(10, 3.8), layout="constrained")
    width = 0.8 / len(per)
    # A bar's value is written on it only while bars are wide enough for the words not to overprint.
    labelled = len(per) <= LABELLED_CAMPAIGNS
    for k, (campaign, row) in enumerate(per.iterrows()):
        values = row.to_numpy(float)
        share = 100 * values / values[0] if values[0] else values * 0
        bars = ax.bar(np.arange(len(FUNNEL_STEPS)) + k * width, share, width, label=campaign)
        if labelled:
            ax.bar_label(bars, labels=[f"{s:.0f}%" for s in share], fontsize=7, padding=1)
    ax.set_xticks(np.arange(len(FUNNEL_STEPS)) + 0.4 - width / 2, FUNNEL_STEPS)
    ax.set_ylabel("% of assigned users")
    ax.set_ylim(0, 110)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    ax.set_title(FUNNEL, loc="left")
    return fig


LABELLED_CAMPAIGNS = 3


def dormancy(stages: pd.DataFrame) -> bytes:
    """Customers per dormancy stage (columns: dormancy_stage, customers)."""
    title = "Dormancy distribution of all customers"
    if not len(stages):
        return _empty(title, "No features table (marts.fct_user_features) yet.")
    order = ["active", "cooling", "dormant", "lapsed"]
    s = stages.set_index("dormancy_stage")["customers"]
    s = s.reindex([o for o in order if o in s.index] + [i for i in s.index if i not in order])
    fig, ax = plt.subplots(figsize=(7, 3.2))
    bars = ax.bar(
        [str(i) for i in s.index], s.to_numpy(), color=["#2da44e", "#d4a72c", "#bc4c00", "#cf222e"][: len(s)]
    )
    for b, v in zip(bars, s.to_numpy(), strict=True):
        ax.text(b.get_x() + b.get_width() / 2, v, f"{v:,}", ha="center", va="bottom", fontsize=8)
    ax.set_ylabel("customers")
    ax.margins(y=0.12)  # room for the count above the tallest bar
    ax.set_title(title, loc="left")
    return _png(fig)
