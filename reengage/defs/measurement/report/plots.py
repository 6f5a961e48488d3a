"""The report's plots as PNG bytes (matplotlib, Agg backend, no display needed)."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

COLOURS = {"winner": "#1a7f37", "worse": "#cf222e", "no difference yet": "#6e7781"}
BLUE, ORANGE, GREY = "#0969da", "#d4a72c", "#8c959f"


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _empty(title: str, text: str) -> bytes:
    fig, ax = plt.subplots(figsize=(8, 2.2))
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=12, color="#57606a")
    ax.set_title(title, loc="left")
    ax.axis("off")
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


def lift_over_time(daily: pd.DataFrame) -> bytes:
    """Per campaign and day users entered: conversion lift vs holdout (matured days), open/click rates."""
    title = "Engagement and conversion lift by the day users entered (first assignment)"
    if not len(daily):
        return _empty(title, "No assignments yet.")
    campaigns = sorted(daily["campaign_id"].unique())
    fig, axes = plt.subplots(len(campaigns), 2, figsize=(11, 2.8 * len(campaigns)), squeeze=False)
    for row, campaign in zip(axes, campaigns, strict=True):
        d = daily[daily["campaign_id"] == campaign].sort_values("assigned_date")
        x = pd.to_datetime(d["assigned_date"])
        m = d["matured"].astype(bool).to_numpy()
        ax = row[0]
        ax.fill_between(
            x[m], 100 * d["abs_ci_low"][m], 100 * d["abs_ci_high"][m], color=BLUE, alpha=0.15, label="95% CI"
        )
        ax.plot(x[m], 100 * d["abs_lift"][m], color=BLUE, marker=".", label="lift (matured days)")
        ax.plot(x[~m], 100 * d["abs_lift"][~m], color=GREY, marker=".", ls="", label="window still open")
        ax.axhline(0, color="black", lw=0.8)
        ax.set_title(f"{campaign}: conversion lift vs holdout (points)", loc="left", fontsize=10)
        ax.legend(fontsize=7, loc="upper left")
        ax.tick_params(axis="x", labelrotation=30, labelsize=8)
        ax = row[1]
        ax.plot(x, 100 * d["open_rate"], color=ORANGE, marker=".", label="open rate")
        ax.plot(x, 100 * d["click_rate"], color=BLUE, marker=".", label="click rate")
        ax.set_ylim(bottom=0)
        ax.set_title(f"{campaign}: engagement of sent messages (%)", loc="left", fontsize=10)
        ax.legend(fontsize=7, loc="upper left")
        ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    fig.suptitle(title, x=0.01, ha="left")
    fig.tight_layout()
    return _png(fig)


def retention(curves: pd.DataFrame) -> bytes:
    """Share of each arm's users active k days after their first assignment (arm, day, share, users)."""
    title = "Retention after first assignment: share of users active k days later"
    if not len(curves):
        return _empty(title, "No activity table (marts.fct_user_daily_activity) or no assignments yet.")
    fig, ax = plt.subplots(figsize=(9, 3.6))
    for arm, colour in (("treatment", BLUE), ("holdout", ORANGE)):
        c = curves[curves["arm"] == arm].sort_values("day")
        if len(c):
            ax.plot(c["day"], 100 * c["share"], marker="o", color=colour, label=arm)
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


def funnel(summary: pd.DataFrame) -> bytes:
    title = "Funnel of treated users: where they drop off"
    t = summary[summary["arm"] == "treatment"] if len(summary) else summary
    if not len(t):
        return _empty(title, "No treated users yet.")
    per = t.groupby("campaign_id")[list(FUNNEL_STEPS)].sum()
    fig, ax = plt.subplots(figsize=(9, 3.8))
    width = 0.8 / len(per)
    for k, (campaign, row) in enumerate(per.iterrows()):
        values = row.to_numpy(float)
        share = 100 * values / values[0] if values[0] else values * 0
        bars = ax.bar(np.arange(len(FUNNEL_STEPS)) + k * width, share, width, label=campaign)
        for b, s in zip(bars, share, strict=True):
            ax.text(b.get_x() + b.get_width() / 2, s + 1, f"{s:.0f}%", ha="center", fontsize=7)
    ax.set_xticks(np.arange(len(FUNNEL_STEPS)) + 0.4 - width / 2, FUNNEL_STEPS)
    ax.set_ylabel("% of assigned users")
    ax.legend(fontsize=8)
    ax.set_title(title, loc="left")
    return _png(fig)


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
    ax.set_title(title, loc="left")
    return _png(fig)
