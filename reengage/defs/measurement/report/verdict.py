"""What to do with a campaign, in one sentence: keep it, stop it, or wait, and why.

The sentence reads only what the day's analysis already decided (the sequential test's
decision on the target event against the holdout, the guardrails, the sample ratio check); it
never judges from a point estimate. The order is the order of harm: a breached guardrail or a
campaign that does harm stops it whatever else holds; a win counts only with every guardrail fine.
"""

from __future__ import annotations

import math

import pandas as pd

from reengage.defs.measurement import stats as st
from reengage.defs.measurement.analysis import (
    INSUFFICIENT,
    SRM_HOLD,
    WINNER,
    WORSE,
    CampaignPlan,
    MeasurementTables,
    settings_of,
)
from reengage.defs.measurement.config import MeasurementConfig
from reengage.defs.measurement.display import MEASURE_NAMES, percent, points

KEEP, STOP, WAIT = "Keep", "Stop", "Wait"


def verdict(
    campaign: str, tables: MeasurementTables, plan: CampaignPlan | None, config: MeasurementConfig
) -> str:
    """One sentence opening with Keep, Stop or Wait, then the reason in plain words.

    It judges by the settings the campaign's measurement used that day (its users per arm, level and
    sequential scale, stored with the tables; its guardrails' limits are in their rows); `config` only
    stands in for a day measured before those settings were stored.
    """
    config = settings_of(tables, campaign, config)
    target = f"convert ({plan.target_event})" if plan else "convert"
    breaches = _breaches(campaign, tables)
    overall = _overall(campaign, tables)
    if breaches:
        p = tables.pauses
        then = (
            " (it is paused from tomorrow)"
            if (p["paused"].astype(bool) & (p["campaign_id"] == campaign)).any()
            else ""
        )
        return f"{STOP}: {breaches}{then}."
    if overall is not None and overall["decision"] == WORSE:
        return (
            f"{STOP}: treated users {target} {_less(overall['abs_lift'])} than held-out users "
            f"({_rates(overall)}), and the sequential test says this is no chance."
        )
    if overall is not None and overall["decision"] == WINNER:
        return (
            f"{KEEP}: treated users {target} {_more(overall['abs_lift'])} than held-out users "
            f"({_rates(overall)}), the sequential test says this is no chance, and every guardrail is fine."
        )
    return f"{WAIT}: {_why_wait(campaign, tables, overall, plan, config)}."


def _breaches(campaign: str, tables: MeasurementTables) -> str:
    """The campaign's breached guardrails in words ('' when every one is fine)."""
    g = tables.guardrails
    hit = g[(g["campaign_id"] == campaign) & g["breached"].astype(bool)]
    words = []
    for r in hit.itertuples():
        where = "" if r.variant == "all" else f" in variant '{r.variant}'"
        words.append(
            f"the {MEASURE_NAMES.get(r.metric, r.metric)}{where} is {percent(r.rate, 2)}, over its limit of "
            f"{percent(r.limit_value, 2)}" + ("" if pd.isna(r.holdout_rate) else " above the holdout's")
        )
    return "; ".join(words)


def _overall(campaign: str, tables: MeasurementTables) -> pd.Series | None:
    c = tables.comparisons
    overall = (c["metric"] == "conversion") & (c["comparison"] == "treatment_vs_holdout")
    rows = c[(c["campaign_id"] == campaign) & overall]
    return rows.iloc[0] if len(rows) else None


def _why_wait(
    campaign: str,
    tables: MeasurementTables,
    overall: pd.Series | None,
    plan: CampaignPlan | None,
    config: MeasurementConfig,
) -> str:
    s = tables.summary
    users = s[s["campaign_id"] == campaign]
    if not len(users):
        return "nobody has been assigned to this campaign yet"
    if overall is None:
        arms = set(users["arm"])
        if "treatment" not in arms:
            return "every user so far was held out, so nobody has had a message to answer yet"
        return (
            "the campaign holds nobody out, so whether it works cannot be measured; "
            "give it a holdout share in its campaign file"
        )
    if overall["decision"] == SRM_HOLD:
        return (
            "the groups' sizes do not match the split the campaign file plans (sample ratio check), "
            "so no result can be trusted until the cause is found"
        )
    n_held, n_treated = int(overall["n_baseline"]), int(overall["n_variant"])
    if overall["decision"] == INSUFFICIENT and n_held + n_treated == 0:
        days = f"{plan.attribution_window_days}-day " if plan else ""
        return (
            f"no user's {days}window has closed yet, so nothing can be compared; the sequential test "
            f"starts once {config.min_per_arm:,} treated and {config.min_per_arm:,} held-out users' windows "
            "have closed"
        )
    if overall["decision"] == INSUFFICIENT:
        short = [
            f"{config.min_per_arm - n:,} more {who}"
            for n, who in ((n_treated, "treated"), (n_held, "held-out"))
            if n < config.min_per_arm
        ]
        return (
            f"too few users' windows have closed for the sequential test to start: it needs "
            f"{config.min_per_arm:,} in each group and has {n_treated:,} treated and {n_held:,} held out, "
            f"so {' and '.join(short)} users whose window has closed"
        )
    lift = f"lift so far {points(overall['abs_lift'])}"
    x_held, x_treated = int(overall["x_baseline"]), int(overall["x_variant"])
    k = st.users_to_decide(x_held, n_held, x_treated, n_treated, config.msprt_tau, config.alpha)
    if k is None:
        return (
            f"no clear difference from the holdout yet ({lift}); at this lift the sequential test would "
            "need more than ten times the users it has, so the campaign may make little difference"
        )
    return (
        f"no clear difference from the holdout yet ({lift}); if it holds, the sequential test decides at "
        "about "
        f"{math.ceil(k * n_treated):,} treated and {math.ceil(k * n_held):,} held-out users whose window "
        f"has closed (it has {n_treated:,} and {n_held:,})"
    )


def _rates(r: pd.Series) -> str:
    return f"{percent(r['value_variant'])} against {percent(r['value_baseline'])}"


def _more(lift: float) -> str:
    return f"{abs(100 * lift):.1f} points more often"


def _less(lift: float) -> str:
    return f"{abs(100 * lift):.1f} points less often"
