"""From per-user outcomes to the day's measurement tables (pure pandas over `outcomes.compute_outcomes`).

A row of the outcomes is a user in one campaign, counted once from their first assignment, so
every count below is of users, never of daily assignments or messages.

- ``summary``      per campaign, variant and arm: users, rates, revenue, response times
- ``comparisons``  lift of each variant (and the pooled treatment) against the holdout and
  each variant against the control: conversion (two-proportion z-test, CUPED, P(beat),
  mSPRT sequential decision) and revenue per user (Welch); BH across the whole day
- ``srm``          sample-ratio mismatch of the users in each (variant, arm) cell against the
  split the campaign file plans
- ``guardrails``   per channel of the users: shares of delivered (or mailed) users who
  unsubscribed, reported spam or bounced (email), or replied STOP (texts), against limits
- ``pauses``       one row per campaign for ``measurement.campaign_guardrails``
- ``daily``        per first-assignment date (the day users entered): treatment vs holdout
  rates (lift over time)
- ``channels``     per campaign and channel of the users' first assignment: sends, deliveries,
  failures, opt-outs (unsubscribes, STOP replies), opens and clicks (null for texts),
  conversions and the lift against the held-out users the campaign would have reached on that
  channel; 'all' beside them for a campaign on several channels

Each frame has exactly the columns of its declared table (reengage/schema/declared.py).

A winner is declared only by the sequential rule: the first daily look at which the
always-valid p-value of the mSPRT reaches alpha, recomputed from matured users at every
past look so the decision is reproducible.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

import pandas as pd

from reengage.defs.measurement import stats as st
from reengage.defs.measurement.config import CHANNEL_GUARDRAILS, MeasurementConfig
from reengage.schema.declared import (
    ASSIGNMENT_OUTCOMES,
    CAMPAIGN_CHANNELS,
    CAMPAIGN_COMPARISONS,
    CAMPAIGN_DAILY,
    CAMPAIGN_GUARDRAILS,
    CAMPAIGN_SETTINGS,
    CAMPAIGN_SRM,
    CAMPAIGN_SUMMARY,
    GUARDRAIL_METRICS,
    Table,
)
from reengage.schema.migrations import migrate, require
from reengage.tables import as_frame, replace_run_date
from reengage.warehouse import transaction

WINNER, WORSE, NO_DIFFERENCE, INSUFFICIENT, SRM_HOLD = (
    "winner",
    "worse",
    "no difference yet",
    "insufficient data",
    "check assignment (SRM)",
)


@dataclass(frozen=True)
class CampaignPlan:
    """What the campaign file planned: holdout share, variant weights and the control variant."""

    campaign_id: str
    holdout_share: float
    weights: dict[str, float]
    control: str
    description: str = ""
    target_event: str = "purchase"
    attribution_window_days: int = 7

    @classmethod
    def from_campaign(cls, c) -> CampaignPlan:
        return cls(
            c.id,
            c.holdout_share,
            {v.name: v.weight for v in c.variants},
            c.control.name,
            c.description,
            c.target_event,
            c.attribution_window_days,
        )


# Each of the day's frames and the table it is stored in.
TABLE_OF_FRAME: dict[str, Table] = {
    "summary": CAMPAIGN_SUMMARY,
    "comparisons": CAMPAIGN_COMPARISONS,
    "srm": CAMPAIGN_SRM,
    "guardrails": GUARDRAIL_METRICS,
    "pauses": CAMPAIGN_GUARDRAILS,
    "daily": CAMPAIGN_DAILY,
    "channels": CAMPAIGN_CHANNELS,
    "settings": CAMPAIGN_SETTINGS,
}


@dataclass
class MeasurementTables:
    run_date: date
    summary: pd.DataFrame
    comparisons: pd.DataFrame
    srm: pd.DataFrame
    guardrails: pd.DataFrame
    pauses: pd.DataFrame
    daily: pd.DataFrame
    channels: pd.DataFrame
    settings: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    def items(self) -> Iterable[tuple[Table, pd.DataFrame]]:
        for frame, table in TABLE_OF_FRAME.items():
            yield table, getattr(self, frame)


def analyse(
    outcomes: pd.DataFrame, plans: dict[str, CampaignPlan], run_date: date, config: MeasurementConfig
) -> MeasurementTables:
    o = outcomes.copy()
    if len(o):
        o["look_date"] = (pd.to_datetime(o["window_end_at"]) - pd.Timedelta(microseconds=1)).dt.date
    return MeasurementTables(
        run_date=run_date,
        summary=_summary(o, run_date),
        comparisons=_comparisons(o, plans, run_date, config),
        srm=_srm(o, plans, run_date, config),
        guardrails=(g := _guardrails(o, run_date, config)),
        pauses=_pauses(o, g, run_date, config),
        daily=_daily(o, run_date),
        channels=_channels(o, run_date, config),
        settings=_settings(o, run_date, config),
    )


def settings_of(tables: MeasurementTables, campaign: str, default: MeasurementConfig) -> MeasurementConfig:
    """The settings `campaign`'s measurement used that day (`default` for a day measured before they
    were stored), so what is said about a test judges by the level and sample size it ran with."""
    rows = tables.settings[tables.settings["campaign_id"] == campaign]
    if not len(rows):
        return default
    used = rows.iloc[0]
    return default.model_copy(
        update={
            "alpha": float(used["alpha"]),
            "msprt_tau": float(used["msprt_tau"]),
            "min_per_arm": int(used["min_per_arm"]),
        }
    )


def _settings(o: pd.DataFrame, run_date: date, config: MeasurementConfig) -> pd.DataFrame:
    """A row per campaign measured (one with an assigned user), like every table of the day."""
    campaigns = sorted(set(o["campaign_id"])) if len(o) else []
    rows = [
        {
            "run_date": run_date,
            "campaign_id": campaign,
            "alpha": config.alpha,
            "msprt_tau": config.msprt_tau,
            "min_per_arm": config.min_per_arm,
        }
        for campaign in campaigns
    ]
    return pd.DataFrame(rows, columns=CAMPAIGN_SETTINGS.names)


# --- summary -------------------------------------------------------------------------------


def _summary(o: pd.DataFrame, run_date: date) -> pd.DataFrame:
    cols = CAMPAIGN_SUMMARY.names
    if not len(o):
        return pd.DataFrame(columns=cols)
    rows = []
    for (campaign, variant, arm), g in o.groupby(["campaign_id", "variant", "arm"], sort=True):
        m = g[g["matured"]]
        rows.append(
            {
                "run_date": run_date,
                "campaign_id": campaign,
                "variant": variant,
                "arm": arm,
                "assigned": len(g),
                "matured": len(m),
                "sent": int(g["sent"].sum()),
                "delivered": int(g["delivered"].sum()),
                "opened": _reported_count(g["opened"]),
                "clicked": _reported_count(g["clicked"]),
                "bounced": int(g["bounced"].sum()),
                "spam_reported": _reported_count(g["spam_reported"]),
                "unsubscribed": int(g["unsubscribed"].sum()),
                "converted": int(g["converted"].sum()),
                "converted_matured": int(m["converted"].sum()),
                "click_through_rate": _click_through_rate(g),
                "conversion_rate": _ratio(m["converted"].sum(), len(m)),
                "revenue": float(g["revenue"].sum()),
                "revenue_per_user": _ratio(m["revenue"].sum(), len(m)),
                "median_hours_to_convert": _median(g["hours_to_convert"]),
                "median_hours_to_click": _median(g["hours_to_click"]),
            }
        )
    return pd.DataFrame(rows, columns=cols)


def _ratio(a: float, b: float) -> float:
    return float(a) / float(b) if b else float("nan")


def _reported_count(s: pd.Series) -> int | None:
    """True values among the users whose channel reports the outcome; None when no channel of theirs
    does (a text has no open or click: null, never zero)."""
    known = s.dropna()
    return int(known.astype(bool).sum()) if len(known) else None


def _delivered_reporting(g: pd.DataFrame, outcome: str) -> int:
    """Users with a delivered message on a channel that reports `outcome` (a rate's denominator)."""
    return int(g.loc[g[outcome].notna(), "delivered"].astype(bool).sum())


def _click_through_rate(g: pd.DataFrame) -> float:
    return _ratio(_reported_count(g["clicked"]) or 0, _delivered_reporting(g, "clicked"))


def _median(s: pd.Series) -> float:
    s = pd.to_numeric(s, errors="coerce").dropna()
    return float(s.median()) if len(s) else float("nan")


# --- comparisons -----------------------------------------------------------------------------


def _arms(o: pd.DataFrame, plan: CampaignPlan | None) -> list[tuple[str, str, str, pd.Series, pd.Series]]:
    """(comparison, variant, baseline, baseline mask, variant mask) for one campaign's users."""
    treated, held = o["arm"] == "treatment", o["arm"] == "holdout"
    variants = sorted(o.loc[treated, "variant"].unique())
    out = []
    if held.any() and treated.any():
        out.append(("treatment_vs_holdout", "all", "holdout", held, treated))
        if len(variants) > 1:
            for v in variants:
                out.append(("variant_vs_holdout", v, "holdout", held, treated & (o["variant"] == v)))
    control = plan.control if plan else None
    if control and len(variants) > 1 and control in variants:
        for v in variants:
            if v != control:
                out.append(
                    ("variant_vs_control", v, control, treated & (o["variant"] == control),
                     treated & (o["variant"] == v))
                )  # fmt: skip
    return out


def _comparisons(
    o: pd.DataFrame, plans: dict[str, CampaignPlan], run_date: date, config: MeasurementConfig
) -> pd.DataFrame:
    if not len(o):
        return pd.DataFrame(columns=CAMPAIGN_COMPARISONS.names)
    rows: list[dict] = []
    for campaign, g in o.groupby("campaign_id", sort=True):
        g = g.reset_index(drop=True)
        plan = plans.get(campaign)
        srm_flag = _srm_row(g, plan, run_date, config)["mismatch"] if plan else False
        for comparison, variant, baseline, a_mask, b_mask in _arms(g, plan):
            a, b = g[a_mask & g["matured"]], g[b_mask & g["matured"]]
            base = {
                "run_date": run_date,
                "campaign_id": campaign,
                "comparison": comparison,
                "variant": variant,
                "baseline": baseline,
            }
            rows.append({**base, **_conversion(a, b, g[a_mask], g[b_mask], config, bool(srm_flag))})
            rows.append({**base, **_revenue(a, b, config)})
    df = pd.DataFrame(rows, columns=CAMPAIGN_COMPARISONS.names)
    df["p_adjusted"] = st.benjamini_hochberg(df["p_value"].astype(float).to_numpy())
    return df


def _conversion(
    a: pd.DataFrame, b: pd.DataFrame, a_all: pd.DataFrame, b_all: pd.DataFrame, config: MeasurementConfig,
    srm_mismatch: bool,
) -> dict:  # fmt: skip
    x_a, n_a, x_b, n_b = int(a["converted"].sum()), len(a), int(b["converted"].sum()), len(b)
    t = st.two_proportion_test(x_a, n_a, x_b, n_b, alpha=config.alpha)
    nan = float("nan")
    row = {
        "metric": "conversion",
        "n_baseline": n_a,
        "x_baseline": x_a,
        "n_variant": n_b,
        "x_variant": x_b,
        "value_baseline": t.rate_a,
        "value_variant": t.rate_b,
        "abs_lift": t.abs_lift,
        "abs_ci_low": t.abs_ci_low,
        "abs_ci_high": t.abs_ci_high,
        "rel_lift": t.rel_lift,
        "rel_ci_low": t.rel_ci_low,
        "rel_ci_high": t.rel_ci_high,
        "p_value": t.p_value,
        "prob_beat": st.prob_b_beats_a(x_a, n_a, x_b, n_b) if n_a and n_b else nan,
    }
    if n_a >= 2 and n_b >= 2:
        c = st.cuped(
            a["converted"].astype(float).to_numpy(), a["pre_active_days"].astype(float).to_numpy(),
            b["converted"].astype(float).to_numpy(), b["pre_active_days"].astype(float).to_numpy(),
            alpha=config.alpha,
        )  # fmt: skip
        row |= {
            "cuped_abs_lift": c.test.diff,
            "cuped_ci_low": c.test.ci_low,
            "cuped_ci_high": c.test.ci_high,
            "cuped_p_value": c.test.p_value,
            "cuped_variance_reduction": c.variance_reduction,
        }
    # sequential: one look per day on the users matured by then
    looks = sorted(set(a_all["look_date"]) | set(b_all["look_date"]))
    looks = [d for d in looks if d <= config_run_date(a_all, b_all)]
    path = []
    for d in looks:
        am, bm = a_all[a_all["look_date"] <= d], b_all[b_all["look_date"] <= d]
        path.append((int(am["converted"].sum()), len(am), int(bm["converted"].sum()), len(bm)))
    ok = [i for i, (_, na, _, nb) in enumerate(path) if na >= config.min_per_arm and nb >= config.min_per_arm]
    seq = st.msprt_path([path[i] for i in ok], tau=config.msprt_tau, alpha=config.alpha)
    first_date = looks[ok[seq.first_rejection_look]] if seq.first_rejection_look is not None else None
    if srm_mismatch:
        decision = SRM_HOLD
    elif not ok:
        decision = INSUFFICIENT
    elif seq.rejected:
        xa, na, xb, nb = path[ok[seq.first_rejection_look]]
        decision = WINNER if xb / nb > xa / na else WORSE
    else:
        decision = NO_DIFFERENCE
    return row | {
        "seq_looks": len(ok),
        "seq_p_value": seq.p_value,
        "seq_ci_low": seq.cs_low,
        "seq_ci_high": seq.cs_high,
        "seq_first_decision_date": first_date,
        "decision": decision,
    }


def _revenue(a: pd.DataFrame, b: pd.DataFrame, config: MeasurementConfig) -> dict:
    w = st.welch_test(a["revenue"].to_numpy(float), b["revenue"].to_numpy(float), alpha=config.alpha)
    return {
        "metric": "revenue_per_user",
        "n_baseline": len(a),
        "n_variant": len(b),
        "value_baseline": w.mean_a,
        "value_variant": w.mean_b,
        "abs_lift": w.diff,
        "abs_ci_low": w.ci_low,
        "abs_ci_high": w.ci_high,
        "rel_lift": w.rel_lift,
        "p_value": w.p_value,
    }


# --- sample ratio mismatch -------------------------------------------------------------------


def _srm_row(g: pd.DataFrame, plan: CampaignPlan, run_date: date, config: MeasurementConfig) -> dict:
    total_w = sum(plan.weights.values())
    cells, shares = [], []
    for v, w in plan.weights.items():
        if plan.holdout_share > 0:
            cells.append((v, "holdout"))
            shares.append(plan.holdout_share * w / total_w)
        cells.append((v, "treatment"))
        shares.append((1 - plan.holdout_share) * w / total_w)
    counts = g.groupby(["variant", "arm"]).size()
    observed = [int(counts.get(c, 0)) for c in cells]
    unknown = int(len(g) - sum(observed))  # variants no longer in the file, or holdout with share 0
    if unknown:
        observed.append(unknown)
        shares.append(0.0)
    r = st.srm_test(observed, shares, threshold=config.srm_threshold)
    n = sum(observed)
    return {
        "run_date": run_date,
        "campaign_id": plan.campaign_id,
        "cells": ", ".join(f"{v}/{a}" for v, a in cells) + (", other" if unknown else ""),
        "observed": ", ".join(str(x) for x in observed),
        # Small expected counts keep a decimal: "0.2" says why 2 users there is a surprise, "0" hid it.
        "expected": ", ".join(f"{s * n:.1f}" if s * n < 10 else f"{s * n:.0f}" for s in shares),
        "chi2": r.chi2,
        "p_value": r.p_value,
        "mismatch": bool(r.mismatch),
    }


def _srm(o: pd.DataFrame, plans: dict[str, CampaignPlan], run_date: date, config: MeasurementConfig):
    rows = [
        _srm_row(g, plans[c], run_date, config) for c, g in o.groupby("campaign_id", sort=True) if c in plans
    ] if len(o) else []  # fmt: skip
    return pd.DataFrame(rows, columns=CAMPAIGN_SRM.names)


# --- guardrails ----------------------------------------------------------------------------


def _guardrails(o: pd.DataFrame, run_date: date, config: MeasurementConfig) -> pd.DataFrame:
    """Each channel's guardrails over its own users: a campaign's treated users on the channel against
    its held-out users the campaign would have reached on it (the holdout has no channel of its own)."""
    if not len(o):
        return pd.DataFrame(columns=GUARDRAIL_METRICS.names)
    rows = []
    for campaign, g in o.groupby("campaign_id", sort=True):
        for channel, c in g.groupby("channel", sort=True):
            metrics = CHANNEL_GUARDRAILS.get(str(channel), ())
            rows += [
                {"run_date": run_date, "campaign_id": campaign, **row}
                for row in _channel_guardrails(c, campaign, metrics, config)
            ]
    return pd.DataFrame(rows, columns=GUARDRAIL_METRICS.names)


def _channel_guardrails(
    c: pd.DataFrame, campaign: str, metrics: tuple[str, ...], config: MeasurementConfig
) -> list[dict]:
    held = c[c["arm"] == "holdout"]
    treated = c[c["arm"] == "treatment"]
    held_unsub = _ratio(held["unsubscribed"].sum(), len(held)) if len(held) else float("nan")
    groups = [("all", treated)] + [(v, t) for v, t in treated.groupby("variant", sort=True)]
    if treated["variant"].nunique() <= 1:
        groups = groups[:1]
    rows = []
    for variant, t in groups:
        delivered, sent = int(t["delivered"].sum()), int(t["sent"].sum())
        unsubscribed = int((t["unsubscribed"] & t["delivered"]).sum())
        specs = {
            "unsubscribe_rate": (unsubscribed, delivered, held_unsub, delivered),
            "sms_opt_out_rate": (unsubscribed, delivered, held_unsub, delivered),
            "spam_rate": (_reported_count(t["spam_reported"]) or 0, delivered, float("nan"), delivered),
            "bounce_rate": (int(t["bounced"].sum()), sent, float("nan"), sent),
        }
        for metric in metrics:
            num, den, base, volume = specs[metric]
            rate = _ratio(num, den)
            lo, hi = st.wilson_interval(num, den, config.alpha)
            excess = rate - base if not math.isnan(base) else rate
            limit = config.limit(campaign, f"max_{metric}")
            rows.append(
                {
                    "variant": variant,
                    "metric": metric,
                    "numerator": num,
                    "denominator": den,
                    "rate": rate,
                    "ci_low": lo,
                    "ci_high": hi,
                    "holdout_rate": base,
                    "excess": excess,
                    "limit_value": limit,
                    "breached": bool(
                        volume >= config.min_delivered
                        and num >= config.min_guardrail_events
                        and not math.isnan(excess)
                        and excess > limit
                    ),
                }
            )
    return rows


def _pauses(o: pd.DataFrame, g: pd.DataFrame, run_date: date, config: MeasurementConfig) -> pd.DataFrame:
    cols = CAMPAIGN_GUARDRAILS.names
    if not len(o):
        return pd.DataFrame(columns=cols)
    rows = []
    for campaign in sorted(o["campaign_id"].unique()):
        hit = g[(g["campaign_id"] == campaign) & g["breached"] & (g["variant"] == "all")]
        hit = hit if len(hit) else g[(g["campaign_id"] == campaign) & g["breached"]]
        reason = "; ".join(
            f"{r.metric} {r.rate:.2%} (excess {r.excess:.2%}) over limit {r.limit_value:.2%}"
            + ("" if r.variant == "all" else f" in variant {r.variant}")
            for r in hit.itertuples()
        )
        rows.append(
            {
                "campaign_id": campaign,
                "run_date": run_date,
                "paused": bool(len(hit)) and config.pauses(campaign),
                "reason": reason or None,
            }
        )
    return pd.DataFrame(rows, columns=cols)


# --- lift over time ----------------------------------------------------------------------------


def _daily(o: pd.DataFrame, run_date: date) -> pd.DataFrame:
    if not len(o):
        return pd.DataFrame(columns=CAMPAIGN_DAILY.names)
    rows = []
    for (campaign, day), g in o.groupby(["campaign_id", "run_date"], sort=True):
        t, h = g[g["arm"] == "treatment"], g[g["arm"] == "holdout"]
        test = st.two_proportion_test(int(h["converted"].sum()), len(h), int(t["converted"].sum()), len(t))
        rows.append(
            {
                "run_date": run_date,
                "campaign_id": campaign,
                "assigned_date": day,
                "matured": bool(g["matured"].all()),
                "n_treatment": len(t),
                "n_holdout": len(h),
                "open_rate": _ratio(_reported_count(t["opened"]) or 0, _delivered_reporting(t, "opened")),
                "click_rate": _click_through_rate(t),
                "conversion_treatment": test.rate_b,
                "conversion_holdout": test.rate_a,
                "abs_lift": test.abs_lift,
                "abs_ci_low": test.abs_ci_low,
                "abs_ci_high": test.abs_ci_high,
            }
        )
    return pd.DataFrame(rows, columns=CAMPAIGN_DAILY.names)


# --- per channel ------------------------------------------------------------------------------


def _channels(o: pd.DataFrame, run_date: date, config: MeasurementConfig) -> pd.DataFrame:
    """Each campaign's users per channel of their first assignment, and 'all' for a campaign on several.

    The held-out users of a channel are those the policy would have reached on it: it picks a
    campaign's channel for a user before the holdout draw, so a held-out row names it. A lift is
    given only when each arm has `min_per_channel_arm` users whose window closed.
    """
    if not len(o):
        return pd.DataFrame(columns=CAMPAIGN_CHANNELS.names)
    rows = []
    for campaign, g in o.groupby("campaign_id", sort=True):
        groups = [(str(channel), c) for channel, c in g.groupby("channel", sort=True)]
        if len(groups) > 1:
            groups.append(("all", g))
        for channel, c in groups:
            rows.append({"run_date": run_date, "campaign_id": campaign, "channel": channel,
                         **_channel_row(c, config)})  # fmt: skip
    return pd.DataFrame(rows, columns=CAMPAIGN_CHANNELS.names)


def _channel_row(c: pd.DataFrame, config: MeasurementConfig) -> dict:
    t, h = c[c["arm"] == "treatment"], c[c["arm"] == "holdout"]
    tm, hm = t[t["matured"].astype(bool)], h[h["matured"].astype(bool)]
    delivered = int(t["delivered"].sum())
    opted_out = int((t["unsubscribed"] & t["delivered"]).sum())
    enough = len(tm) >= config.min_per_channel_arm and len(hm) >= config.min_per_channel_arm
    nan = float("nan")
    test = (
        st.two_proportion_test(int(hm["converted"].sum()), len(hm), int(tm["converted"].sum()), len(tm),
                               alpha=config.alpha)
        if enough else None
    )  # fmt: skip
    return {
        "treated": len(t),
        "held_out": len(h),
        "sent": int(t["sent"].sum()),
        "delivered": delivered,
        "failed": int(t["bounced"].sum()),
        "opted_out": opted_out,
        "opt_out_rate": _ratio(opted_out, delivered),
        "holdout_opt_out_rate": _ratio(h["unsubscribed"].sum(), len(h)),
        "opened": _reported_count(t["opened"]),
        "clicked": _reported_count(t["clicked"]),
        "click_through_rate": _click_through_rate(t),
        "matured_treated": len(tm),
        "converted_treated": int(tm["converted"].sum()),
        "matured_held_out": len(hm),
        "converted_held_out": int(hm["converted"].sum()),
        "conversion_treated": _ratio(tm["converted"].sum(), len(tm)),
        "conversion_held_out": _ratio(hm["converted"].sum(), len(hm)),
        "abs_lift": test.abs_lift if test else nan,
        "abs_ci_low": test.abs_ci_low if test else nan,
        "abs_ci_high": test.abs_ci_high if test else nan,
        "p_value": test.p_value if test else nan,
        "enough_users": enough,
    }


def winners(comparisons: pd.DataFrame) -> pd.DataFrame:
    """Variants the sequential rule declared better than control (their weight can be shifted)."""
    c = comparisons
    return c[
        (c["comparison"] == "variant_vs_control") & (c["metric"] == "conversion") & (c["decision"] == WINNER)
    ]


def config_run_date(*frames: pd.DataFrame) -> date:
    """The as-of date the outcomes were observed to (the run date)."""
    for f in frames:
        if len(f):
            return pd.Timestamp(f["as_of"].iloc[0]).date()
    return date.min


# --- warehouse ---------------------------------------------------------------------------------


def write_tables(con, tables: MeasurementTables, outcomes: pd.DataFrame) -> dict[str, int]:
    """Replace the per-user outcomes and the run date's rows of every measurement table, in one transaction.

    Each table keeps its other run dates' rows. A frame whose columns are not exactly its table's
    declared ones stops the write before anything changes: a bug in the analysis must not touch
    the history. Returns the rows written per table.
    """
    frames = [(ASSIGNMENT_OUTCOMES, outcomes), *tables.items()]
    for table, frame in frames:
        table.check_columns(list(frame.columns))
    migrate(con)  # a bare connection (a test, a script) reaches the declared tables first
    written: dict[str, int] = {}
    con.register("_new_outcomes", outcomes)
    try:
        with transaction(con):
            # The outcomes are recomputed for every user at every run: only the latest run is kept.
            con.execute(f"delete from {ASSIGNMENT_OUTCOMES.name}")
            if len(outcomes):
                con.execute(f"insert into {ASSIGNMENT_OUTCOMES.name} by name select * from _new_outcomes")
            written[ASSIGNMENT_OUTCOMES.name] = len(outcomes)
            for table, frame in tables.items():
                written[table.name] = replace_run_date(con, table.name, tables.run_date, frame)
    finally:
        con.unregister("_new_outcomes")
    return written


def read_tables(con, run_date: date) -> MeasurementTables:
    """The run date's rows of every measurement table: what `write_tables` stored for that day."""
    frames = {}
    for frame, table in TABLE_OF_FRAME.items():
        require(con, table)
        sql = f"select {table.column_list()} from {table.name} where run_date = ?"
        frames[frame] = as_frame(con.execute(sql, [run_date]))
    return MeasurementTables(run_date=run_date, **frames)
