"""The words a person reads for the measurement tables' columns, and the campaign summary as they see it.

The report and the command line's run summary both show `summary_table(campaign_summary rows)`,
so the figures they show for a campaign, variant and arm are the same figures under the same names.

Each row's figures agree with each other: "converted" and "time to convert" count the same users
(every user who converted so far), and "conversion rate" is "converted, window closed" out of
"users whose window closed" (the only users a comparison counts, since an open window may still
convert).
"""

from __future__ import annotations

import math

import pandas as pd

# Stored column -> what a person reads. Written once: the report's tables and the run summary use it.
DISPLAY_NAMES: dict[str, str] = {
    "campaign_id": "campaign",
    "variant": "variant",
    "arm": "arm",
    "assigned": "users",
    "sent": "sent",
    "delivered": "delivered",
    "opened": "opened",
    "clicked": "clicked",
    "click_through_rate": "click-through rate",
    "converted": "converted",
    "median_hours_to_convert": "time to convert (median)",
    "matured": "users whose window closed",
    "converted_matured": "converted, window closed",
    "conversion_rate": "conversion rate",
    "revenue_per_user": "revenue per user",
    # comparisons
    "baseline": "compared with",
    "metric": "measure",
    "n_users": "users (compared with / variant)",
    "value_baseline": "compared with: value",
    "value_variant": "variant: value",
    "abs_lift": "lift [95% interval]",
    "rel_lift": "relative lift",
    "p_value": "p-value",
    "p_adjusted": "adjusted p-value",
    "prob_beat": "chance to beat control",
    "cuped_abs_lift": "variance-reduced lift",
    "decision": "sequential test",
    # guardrails
    "numerator": "users",
    "denominator": "out of users",
    "rate": "rate",
    "holdout_rate": "holdout's rate",
    "limit_value": "limit",
    "breached": "state",
    # sample ratio check
    "cells": "groups (variant/arm)",
    "observed": "users",
    "expected": "users expected",
    "mismatch": "state",
    # results by channel (measurement.campaign_channels)
    "treated": "treated users",
    "held_out": "held-out users",
    "failed": "failed",
    "opted_out": "opted out",
    "opt_out_rate": "opt-out rate",
    "holdout_opt_out_rate": "held-out opt-out rate",
    "conversion_by_arm": "conversion rate (treated / held out)",
    "channel_lift": "lift [95% interval]",
}

# The measures of the comparisons and guardrails tables, in words.
MEASURE_NAMES: dict[str, str] = {
    "conversion": "conversion rate",
    "revenue_per_user": "revenue per user",
    "unsubscribe_rate": "unsubscribe rate",
    "sms_opt_out_rate": "SMS opt-out rate (STOP replies)",
    "spam_rate": "spam report rate",
    "bounce_rate": "bounce rate",
}

SUMMARY_COLUMNS = (
    "campaign_id", "variant", "arm", "assigned", "sent", "delivered", "opened", "clicked",
    "click_through_rate", "converted", "median_hours_to_convert", "matured", "converted_matured",
    "conversion_rate", "revenue_per_user",
)  # fmt: skip


def names(columns: list[str] | tuple[str, ...]) -> dict[str, str]:
    """The rename a frame of stored columns needs to read in words."""
    return {c: DISPLAY_NAMES.get(c, c.replace("_", " ")) for c in columns}


def percent(x: float | None, digits: int = 1) -> str:
    return "n/a" if x is None or not math.isfinite(float(x)) else f"{100 * float(x):.{digits}f}%"


def points(x: float | None) -> str:
    return "n/a" if x is None or not math.isfinite(float(x)) else f"{100 * float(x):+.1f} pts"


def money(x: float | None) -> str:
    return "n/a" if x is None or pd.isna(x) else f"{float(x):.2f}"


def hours(x: float | None) -> str:
    return "n/a" if x is None or pd.isna(x) else f"{float(x):.0f} h"


# The widest relative-lift interval shown as numbers, in relative change (2.0: 200 points, e.g. -50% to
# +150%). A wider one comes from a compared-with rate near zero, where any lift is a huge multiple of
# it (-300% to +2,000%): its numbers mean nothing to a reader, so it reads TOO_WIDE and the absolute
# lift beside it carries the result.
RELATIVE_INTERVAL_WIDEST = 2.0
TOO_WIDE = "too wide to read"


def relative_lift(lift: float | None, low: float | None, high: float | None) -> str:
    """A relative lift with its interval, '-5% [-20%, +12%]'; TOO_WIDE past RELATIVE_INTERVAL_WIDEST."""
    if lift is None or pd.isna(lift) or not math.isfinite(float(lift)):
        return "n/a"
    if low is None or high is None or pd.isna(low) or pd.isna(high):
        return f"{100 * float(lift):+.0f}%"
    if (
        not (math.isfinite(float(low)) and math.isfinite(float(high)))
        or high - low > RELATIVE_INTERVAL_WIDEST
    ):
        return TOO_WIDE
    return f"{100 * float(lift):+.0f}% [{100 * float(low):+.0f}%, {100 * float(high):+.0f}%]"


def summary_table(summary: pd.DataFrame) -> pd.DataFrame:
    """measurement.campaign_summary rows as a person reads them (the report's and the run summary's)."""
    out = summary.sort_values(["campaign_id", "variant", "arm"])[list(SUMMARY_COLUMNS)].copy()
    for column in ("assigned", "sent", "delivered", "converted", "matured", "converted_matured"):
        out[column] = out[column].map(lambda v: f"{int(v):,}")
    for column in ("opened", "clicked"):
        # Null where no user's channel reports them (a campaign of texts): not zero.
        out[column] = out[column].map(lambda v: "n/a for texts" if pd.isna(v) else f"{int(v):,}")
    out["click_through_rate"] = [
        "n/a for texts" if pd.isna(clicked) else percent(rate)
        for rate, clicked in zip(out["click_through_rate"], summary.loc[out.index, "clicked"], strict=True)
    ]
    out["conversion_rate"] = out["conversion_rate"].map(percent)
    out["revenue_per_user"] = out["revenue_per_user"].map(money)
    out["median_hours_to_convert"] = out["median_hours_to_convert"].map(hours)
    return out.rename(columns=names(SUMMARY_COLUMNS)).reset_index(drop=True)
