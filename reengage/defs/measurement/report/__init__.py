"""The campaign report: one self-contained HTML page (plots embedded as base64 PNG) plus Markdown.

    data = report_data(con, outcomes, run_date)  # what the plots read besides the tables
    report = build_report(tables, data, plans)
    path = write_report(report, settings.home() / "reports")

Written for a marketer: every campaign opens with one sentence saying what to do (keep, stop
or wait, and why: `verdict`), then plain sentences (did it work, is a variant better, is a
guardrail tripped), then the numbers with their intervals under the names of `display`, and a
glossary of every statistical word the page uses. Every count
is of users: each user counts once per campaign, from their first assignment.
No personal data: only campaign-level aggregates appear.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

from reengage.defs.measurement.analysis import WINNER, WORSE, CampaignPlan, MeasurementTables, settings_of
from reengage.defs.measurement.config import MeasurementConfig
from reengage.defs.measurement.display import (
    DISPLAY_NAMES,
    MEASURE_NAMES,
    money,
    names,
    percent,
    points,
    relative_lift,
    summary_table,
)
from reengage.defs.measurement.report import plots
from reengage.defs.measurement.report.channels import CHANNELS_NOTE, channel_sections
from reengage.defs.measurement.report.glossary import GLOSSARY
from reengage.defs.measurement.report.verdict import verdict
from reengage.defs.measurement.targeting import latest_estimates
from reengage.tables import as_frame, column_types, relation_exists
from reengage.wording import counted

__all__ = ["Report", "ReportData", "build_report", "report_data", "write_report", "headline"]


@dataclass
class Report:
    run_date: date
    html: str
    markdown: str
    images: dict[str, bytes] = field(default_factory=dict)
    headlines: list[str] = field(default_factory=list)


# --- data for the plots ------------------------------------------------------------------------


@dataclass
class ReportData:
    """What the plots read from the warehouse besides the measurement tables."""

    curves: pd.DataFrame  # retention by arm and day after assignment
    cohorts: pd.DataFrame  # weekly cohorts x weeks
    dormancy: pd.DataFrame  # customers by dormancy stage
    # Each campaign's latest judgement of its candidate targetings (measurement.targeting_estimates).
    targeting: pd.DataFrame = field(default_factory=pd.DataFrame)

    def frames(self) -> dict[str, pd.DataFrame]:
        return {
            "curves": self.curves,
            "cohorts": self.cohorts,
            "dormancy": self.dormancy,
            "targeting": self.targeting,
        }


def report_data(con: duckdb.DuckDBPyConnection, outcomes: pd.DataFrame, run_date: date) -> ReportData:
    curves, cohorts = retention_data(con, outcomes, run_date)
    return ReportData(
        curves=curves,
        cohorts=cohorts,
        dormancy=dormancy_data(con),
        targeting=latest_estimates(con, run_date),
    )


def retention_data(
    con: duckdb.DuckDBPyConnection, outcomes: pd.DataFrame, run_date: date, days: int = 14
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(curves by arm and day, weekly cohorts x weeks) after each user's first assignment."""
    empty = (
        pd.DataFrame(columns=["arm", "day", "share", "users"]),
        pd.DataFrame(columns=["cohort", "week", "share"]),
    )
    if not len(outcomes) or not relation_exists(con, "marts.fct_user_daily_activity"):
        return empty
    con.register("_assigned", outcomes[["customer_id", "run_date", "arm"]])
    try:
        curves = as_frame(
            con.execute(
                f"""
            with a as (select distinct customer_id, cast(run_date as date) as d, arm from _assigned),
            grid as (
                select a.*, k from a, range(1, {days + 1}) as r(k) where a.d + cast(k as integer) <= $run_date
            )
            select arm, k as day, avg(case when f.customer_id is not null then 1.0 else 0.0 end) as share,
                   count(*) as users
            from grid
            left join marts.fct_user_daily_activity as f
                on f.customer_id = grid.customer_id and f.activity_date = grid.d + cast(k as integer)
            group by all order by arm, day
            """,
                {"run_date": run_date},
            )
        )
        cohorts = as_frame(
            con.execute(
                """
            with a as (
                select distinct customer_id, cast(run_date as date) as d,
                       cast(date_trunc('week', cast(run_date as date)) as date) as cohort
                from _assigned where arm = 'treatment'
            ),
            grid as (
                select a.*, w from a, range(0, 6) as r(w) where a.d + cast(7 * w as integer) + 6 <= $run_date
            ),
            hit as (
                select grid.customer_id, grid.d, grid.cohort, grid.w,
                       bool_or(f.customer_id is not null) as active
                from grid
                left join marts.fct_user_daily_activity as f
                    on f.customer_id = grid.customer_id
                    and f.activity_date between grid.d + cast(7 * grid.w as integer) + 1
                                            and grid.d + cast(7 * grid.w as integer) + 7
                group by all
            )
            select cohort, w as week, avg(case when active then 1.0 else 0.0 end) as share
            from hit group by all order by cohort, week
            """,
                {"run_date": run_date},
            )
        )
    finally:
        con.unregister("_assigned")
    curves = curves[curves["users"] >= 20]
    return curves, cohorts


def dormancy_data(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    if not relation_exists(con, "marts.fct_user_features"):
        return pd.DataFrame(columns=["dormancy_stage", "customers"])
    latest = (
        "where as_of_date = (select max(as_of_date) from marts.fct_user_features)"
        if column_types(con, "marts.fct_user_features").get("as_of_date")
        else ""
    )
    return as_frame(
        con.execute(
            f"select coalesce(dormancy_stage, 'unknown') as dormancy_stage, count(*) as customers "
            f"from marts.fct_user_features {latest} group by 1 order by 1"
        )
    )


# --- words -----------------------------------------------------------------------------------


def headline(campaign: str, tables: MeasurementTables) -> list[str]:
    """Plain sentences for one campaign (the sequential rule decides, never the point estimate)."""
    c = tables.comparisons
    c = c[(c["campaign_id"] == campaign) & (c["metric"] == "conversion")]
    interval = f"{1 - settings_of(tables, campaign, MeasurementConfig()).alpha:.0%} interval"
    lines = []
    overall = c[c["comparison"] == "treatment_vs_holdout"]
    if len(overall):
        r = overall.iloc[0]
        if r["decision"] == WINNER:
            lines.append(
                f"The campaign works: treated users convert {points(r['abs_lift'])} more than the holdout "
                f"({interval} {points(r['abs_ci_low'])} to {points(r['abs_ci_high'])}; "
                f"always-valid {points(r['seq_ci_low'])} to {points(r['seq_ci_high'])})."
            )
        elif r["decision"] == WORSE:
            lines.append(
                f"The campaign hurts: treated users convert {points(r['abs_lift'])} less than the holdout "
                f"({interval} {points(r['abs_ci_low'])} to {points(r['abs_ci_high'])})."
            )
        else:
            closed = (
                f"{int(r['n_variant']):,} treated vs {int(r['n_baseline']):,} held-out users whose windows "
                "have closed"
            )
            lines.append(
                f"Campaign vs holdout: {r['decision']} ({closed})."
                if pd.isna(r["abs_lift"])
                else f"Campaign vs holdout: {r['decision']} (lift so far {points(r['abs_lift'])}, "
                f"{interval} {points(r['abs_ci_low'])} to {points(r['abs_ci_high'])}, {closed})."
            )
    for r in c[c["comparison"] == "variant_vs_control"].itertuples():
        if r.decision == WINNER:
            lines.append(
                f"Variant '{r.variant}' beats control '{r.baseline}' by {points(r.abs_lift)} "
                f"({interval} {points(r.abs_ci_low)} to {points(r.abs_ci_high)}; always-valid "
                f"{points(r.seq_ci_low)} to {points(r.seq_ci_high)}), declared by the sequential rule on "
                f"{pd.Timestamp(r.seq_first_decision_date):%Y-%m-%d}. Consider shifting its weight in the "
                "campaign file."
            )
        elif r.decision == WORSE:
            lines.append(
                f"Variant '{r.variant}' does worse than control '{r.baseline}' ({points(r.abs_lift)})."
            )
        else:
            lines.append(
                f"Variant '{r.variant}' vs control: {r.decision}"
                + ("" if pd.isna(r.prob_beat) else f" (chance to beat control {percent(r.prob_beat, 0)})")
                + "."
            )
    pause = tables.pauses[tables.pauses["campaign_id"] == campaign]
    if len(pause) and isinstance(pause.iloc[0]["reason"], str) and pause.iloc[0]["reason"]:
        verb = "PAUSED from tomorrow" if bool(pause.iloc[0]["paused"]) else "flagged (not paused)"
        lines.append(f"Guardrail: {verb}: {pause.iloc[0]['reason']}.")
    srm = tables.srm[tables.srm["campaign_id"] == campaign]
    if len(srm) and bool(srm.iloc[0]["mismatch"]):
        lines.append(
            f"Sample ratio mismatch (p = {srm.iloc[0]['p_value']:.2g}): the users in each arm do not match "
            "the planned split, so results are not trustworthy until the cause is found."
        )
    return lines


# --- tables ----------------------------------------------------------------------------------


def _fmt_table(df: pd.DataFrame, kind: str) -> pd.DataFrame:
    """A measurement table as a person reads it: the names of `display`, rates in % and points."""
    if not len(df):
        return df
    if kind == "summary":
        return summary_table(df)
    if kind == "comparisons":
        return comparisons_shown(df)[0]
    if kind == "guardrails":
        columns = ["campaign_id", "variant", "metric", "numerator", "denominator", "rate", "holdout_rate",
                   "limit_value", "breached"]  # fmt: skip
        out = df[columns].copy()
        out["metric"] = out["metric"].map(lambda m: MEASURE_NAMES.get(m, m))
        for col in ("rate", "holdout_rate", "limit_value"):
            out[col] = out[col].map(lambda v: percent(v, 2))
        out["breached"] = out["breached"].map(lambda b: "BREACHED" if b else "ok")
        return out.rename(columns=names(columns))
    if kind == "srm":
        columns = ["campaign_id", "cells", "observed", "expected", "p_value", "mismatch"]
        out = df[columns].copy()
        out["p_value"] = out["p_value"].map(lambda v: f"{v:.3g}")
        out["mismatch"] = out["mismatch"].map(lambda b: "MISMATCH" if b else "ok")
        return out.rename(columns=names(columns))
    return df


# The columns of a comparison row that are not figures: which comparison it is, and the sequential test's
# word, which for a row without figures is "insufficient data".
_NOT_FIGURES = tuple(
    DISPLAY_NAMES[c] for c in ("campaign_id", "variant", "baseline", "metric", "n_users", "decision")
)
NOT_COMPUTED = ("n/a", "")


def comparisons_shown(comparisons: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """The comparisons as a person reads them, and how many were left out: a comparison whose every
    figure is n/a (too few users with a closed window on a side) says nothing yet, so it waits."""
    rows = [_comparison_row(r) for r in comparisons.itertuples()]
    shown = [
        row for row in rows if any(v not in NOT_COMPUTED for k, v in row.items() if k not in _NOT_FIGURES)
    ]
    return pd.DataFrame(shown, columns=list(rows[0]) if rows else None), len(rows) - len(shown)


def not_shown_note(hidden: int) -> str:
    """The line under the comparisons table saying how many wait, and why ('' when none does)."""
    if not hidden:
        return ""
    verb = "is" if hidden == 1 else "are"
    return (
        f"{counted(hidden, 'comparison')} {verb} not shown yet: too few users' windows have closed "
        "to compute any of their figures."
    )


def _comparison_row(r) -> dict[str, str]:  # noqa: ANN001 (a row of campaign_comparisons)
    rate = r.metric == "conversion"
    value = percent if rate else money
    diff = points if rate else (lambda v: "n/a" if pd.isna(v) else f"{v:+.2f}")
    d = DISPLAY_NAMES
    return {
        d["campaign_id"]: r.campaign_id,
        d["variant"]: r.variant,
        d["baseline"]: r.baseline,
        d["metric"]: MEASURE_NAMES.get(r.metric, r.metric),
        d["n_users"]: f"{int(r.n_baseline):,} / {int(r.n_variant):,}",
        d["value_baseline"]: value(r.value_baseline),
        d["value_variant"]: value(r.value_variant),
        d["abs_lift"]: "n/a"
        if pd.isna(r.abs_lift)
        else f"{diff(r.abs_lift)} [{diff(r.abs_ci_low)}, {diff(r.abs_ci_high)}]",
        d["rel_lift"]: relative_lift(r.rel_lift, r.rel_ci_low, r.rel_ci_high),
        d["p_value"]: "n/a" if pd.isna(r.p_value) else f"{r.p_value:.3g}",
        d["p_adjusted"]: "n/a" if pd.isna(r.p_adjusted) else f"{r.p_adjusted:.3g}",
        d["prob_beat"]: percent(r.prob_beat, 0) if rate else "",
        d["cuped_abs_lift"]: diff(r.cuped_abs_lift) if rate else "",
        d["decision"]: r.decision if isinstance(r.decision, str) else "",
    }


def _html_table(df: pd.DataFrame) -> str:
    if not len(df):
        return "<p class='muted'>Nothing to show yet.</p>"
    body = df.to_html(index=False, escape=True, border=0, classes="t", na_rep="n/a")
    for word, cls in (("winner", "good"), ("BREACHED", "bad"), ("MISMATCH", "bad"), (">worse<", "bad")):
        body = body.replace(f"<td>{word.strip('<>')}</td>", f"<td class='{cls}'>{word.strip('<>')}</td>")
    return f"<div class='scroll'>{body}</div>"


CSS = """
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:24px auto;max-width:1200px;
color:#1f2328;line-height:1.45}
h1{font-size:26px;margin-bottom:4px} h2{border-bottom:1px solid #d0d7de;padding-bottom:4px;margin-top:32px}
.muted{color:#57606a} .card{border:1px solid #d0d7de;border-radius:8px;padding:10px 16px;margin:10px 0;
background:#f6f8fa} .card h3{margin:4px 0}
.card p.verdict{font-weight:600;margin:6px 0}
.scroll{max-width:100%;overflow-x:auto;margin:8px 0}
table.t{border-collapse:collapse;font-size:12px} table.t th,table.t td{border:1px solid #d0d7de;
padding:3px 6px;text-align:right} table.t th{background:#f6f8fa;vertical-align:bottom;min-width:3.5em}
table.t td:first-child{text-align:left;white-space:nowrap}
td.good{background:#dafbe1;font-weight:600} td.bad{background:#ffebe9;font-weight:600}
dl.glossary dt{font-weight:600;margin-top:8px} dl.glossary dd{margin-left:16px}
img{max-width:100%;height:auto;border:1px solid #eaeef2;margin:8px 0}
"""
# Headers and values wrap between words, never inside one (min-width keeps a header from one word a
# line); a table still wider than the page scrolls inside its own box, never the page.

PLOT_TITLES = {
    "lift_intervals": "Lift with intervals",
    "lift_over_time": "Engagement lift over time",
    "retention": "Retention after assignment",
    "retention_cohorts": "Retention by cohort",
    "funnel": "Funnel drop-off",
    "dormancy": "Dormancy distribution",
}


def build_report(
    tables: MeasurementTables,
    data: ReportData,
    plans: dict[str, CampaignPlan],
    config: MeasurementConfig | None = None,
) -> Report:
    """`config`: the thresholds for a day measured before each campaign's were stored with its tables
    (the verdicts say how far a test is from deciding by the campaign's own)."""
    config = config or MeasurementConfig()
    run_date = tables.run_date
    images = {
        "lift_intervals": plots.lift_intervals(tables.comparisons),
        "lift_over_time": plots.lift_over_time(tables.daily),
        "retention": plots.retention(data.curves),
        "retention_cohorts": plots.cohort_heatmap(data.cohorts),
        "funnel": plots.funnel(tables.summary),
        "dormancy": plots.dormancy(data.dormancy),
    }
    # Every planned campaign, those nobody was assigned to yet included (their verdict says so).
    campaigns = sorted(set(tables.summary["campaign_id"]) | set(plans))
    sections = {
        "Users by campaign, variant and arm": _fmt_table(tables.summary, "summary"),
        "Lift against holdout and control": (comparisons := comparisons_shown(tables.comparisons))[0],
        "Guardrails": _fmt_table(tables.guardrails, "guardrails"),
        "Sample ratio check": _fmt_table(tables.srm, "srm"),
    }
    intro = (
        f"Run date {run_date}. Every count is of users: a user assigned to a campaign on several days "
        "counts once, in the arm and variant of their first assignment. Conversions are counted within "
        "the campaign's attribution window after that first scheduled send time, for held-out users on "
        "the same clock; comparisons use users whose window has closed, and the sample ratio check counts "
        f"users against the planned split. {_interval_level(tables, config)} "
        "A winner is declared only by the sequential test, which stays valid although this report is read "
        "every day. The Glossary below says what each statistical word means."
    )
    all_headlines: list[str] = []
    cards_html, cards_md = [], []
    for campaign in campaigns:
        todo = verdict(campaign, tables, plans.get(campaign), config)
        lines = headline(campaign, tables)
        all_headlines += [f"{campaign}: {line}" for line in (todo, *lines)]
        desc = plans[campaign].description if campaign in plans else ""
        cards_html.append(
            f"<div class='card'><h3>{html.escape(campaign)}</h3><p class='muted'>{html.escape(desc)}</p>"
            f"<p class='verdict'>{html.escape(todo)}</p><ul>"
            + "".join(f"<li>{html.escape(line)}</li>" for line in lines)
            + "</ul></div>"
        )
        cards_md.append(f"### {campaign}\n**{todo}**\n" + "\n".join(f"- {line}" for line in lines))
    if not campaigns:
        cards_html.append("<p class='muted'>No campaign has assigned anyone yet.</p>")
        cards_md.append("No campaign has assigned anyone yet.")
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Campaign report {run_date}</title><style>{CSS}</style></head><body>",
        f"<h1>Campaign report — {run_date}</h1><p class='muted'>{html.escape(intro)}</p>",
        "<h2>In short</h2>",
        *cards_html,
    ]
    md = [f"# Campaign report — {run_date}", "", intro, "", "## In short", "", *cards_md, ""]
    parts += ["<h2>Glossary</h2><dl class='glossary'>"]
    parts += [f"<dt>{html.escape(term)}</dt><dd>{html.escape(meaning)}</dd>" for term, meaning in GLOSSARY]
    parts += ["</dl>"]
    md += ["## Glossary", "", *[f"- **{term}**: {meaning}" for term, meaning in GLOSSARY], ""]
    notes = {"Lift against holdout and control": not_shown_note(comparisons[1])}
    for title, df in sections.items():
        parts += [f"<h2>{html.escape(title)}</h2>", _html_table(df)]
        md += [f"## {title}", "", df.to_markdown(index=False) if len(df) else "Nothing to show yet.", ""]
        if notes.get(title):
            parts.append(f"<p class='muted'>{html.escape(notes[title])}</p>")
            md += [notes[title], ""]
    # Each channel's own section (results of its messages, its opt-outs, its lift), after the overall ones.
    for title, df in channel_sections(tables.channels, config.min_per_channel_arm).items():
        parts += [f"<h2>{html.escape(title)}</h2>", f"<p class='muted'>{html.escape(CHANNELS_NOTE)}</p>",
                  _html_table(df)]  # fmt: skip
        md += [f"## {title}", "", CHANNELS_NOTE, "", df.to_markdown(index=False), ""]
    parts += [
        "<h2>Targeting judged on past decisions</h2>",
        f"<p class='muted'>{html.escape(TARGETING_NOTE)}</p>",
    ]
    md += ["## Targeting judged on past decisions", "", TARGETING_NOTE, ""]
    if len(data.targeting):
        for campaign_id, rows in data.targeting.groupby("campaign_id", sort=True):
            first = rows.iloc[0]
            caption = (
                f"{campaign_id}: judged on {int(first['decisions'])} decisions of "
                f"{first['first_day']:%Y-%m-%d} to {first['last_day']:%Y-%m-%d}"
            )
            table = _targeting_table(rows)
            parts += [f"<h3>{html.escape(caption)}</h3>", _html_table(table)]
            md += [f"### {caption}", "", table.to_markdown(index=False), ""]
    else:
        parts.append("<p>Nothing judged yet: a campaign needs some matured randomized decisions first.</p>")
        md += ["Nothing judged yet: a campaign needs some matured randomized decisions first.", ""]
    parts.append("<h2>Plots</h2>")
    for name, png in images.items():
        b64 = base64.b64encode(png).decode("ascii")
        parts.append(f"<h3>{PLOT_TITLES[name]}</h3><img alt='{name}' src='data:image/png;base64,{b64}'>")
    parts.append("</body></html>")
    return Report(run_date, "\n".join(parts), "\n".join(md), images, all_headlines)


def _interval_level(tables: MeasurementTables, default: MeasurementConfig) -> str:
    """The intervals' level in words, from the level each campaign was measured at."""
    levels = sorted(set(tables.settings["alpha"].astype(float))) or [default.alpha]
    if len(levels) == 1:
        return f"Intervals are {1 - levels[0]:.0%}."
    per_campaign = ", ".join(
        f"{r.campaign_id} {1 - float(r.alpha):.0%}" for r in tables.settings.itertuples()
    )
    return f"Intervals are at each campaign's level: {per_campaign}."


TARGETING_NOTE = (
    "What each targeting would have brought, estimated from the campaign's own randomized decisions "
    "before it is tried: extra conversions per 1,000 users the campaign won the day for, against "
    "sending them nothing (doubly robust estimate, 95% interval). 'as run' is the targeting the "
    "campaign used; the others apply another rule to the same users on the same days."
)


def _targeting_table(rows: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "targeting": rows["targeting"],
            "sends per 1,000": rows["sends_per_1000"].map(lambda x: f"{x:.0f}"),
            "extra conversions per 1,000": [
                f"{m:+.1f} ({lo:+.1f} to {hi:+.1f})"
                for m, lo, hi in zip(
                    rows["incremental_per_1000"],
                    rows["incremental_per_1000_low"],
                    rows["incremental_per_1000_high"],
                    strict=True,
                )
            ],
        }
    )


def report_path(folder: Path, run_date: date) -> Path:
    return folder / f"campaign_report_{run_date}.html"


def write_report(report: Report, folder: Path) -> Path:
    """campaign_report_<date>.html, plus its plots as PNG files next to it."""
    folder.mkdir(parents=True, exist_ok=True)
    path = report_path(folder, report.run_date)
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(report.html, encoding="utf-8")
    tmp.replace(path)
    plots_dir = folder / f"campaign_report_{report.run_date}_plots"
    plots_dir.mkdir(exist_ok=True)
    for name, png in report.images.items():
        (plots_dir / f"{name}.png").write_bytes(png)
    return path
