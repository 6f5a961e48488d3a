"""Measurement: the day's messages per campaign, variant and arm; what each user did after their first
assignment to a campaign, compared between arms; and the report."""

import base64
import dataclasses
import hashlib
from datetime import date
from pathlib import Path

import dagster as dg
import pandas as pd

from reengage import fingerprints, settings
from reengage.defs.interventions.campaigns import load_campaigns
from reengage.defs.measurement import display as report_names
from reengage.defs.measurement import report as report_module
from reengage.defs.measurement import stats as report_stats
from reengage.defs.measurement.analysis import (
    CampaignPlan,
    analyse,
    read_tables,
    winners,
    write_tables,
)
from reengage.defs.measurement.config import MeasurementConfig
from reengage.defs.measurement.outcomes import compute_outcomes
from reengage.defs.measurement.report import build_report, report_data, report_path, write_report
from reengage.defs.measurement.report import channels as report_channels
from reengage.defs.measurement.report import glossary as report_glossary
from reengage.defs.measurement.report import plots as report_plots
from reengage.defs.measurement.report import verdict as report_verdict
from reengage.defs.measurement.results import compute_campaign_results, write_campaign_results
from reengage.defs.warehouse.assets import model_key
from reengage.learning.churn import fingerprint as frame_fingerprint
from reengage.partitions import daily_partitions
from reengage.tables import as_frame
from reengage.warehouse import WarehouseResource

MEASUREMENT_DEPS = [
    dg.AssetKey(["campaign_sends"]),
    model_key("stg_sendgrid__email_events"),
    model_key("stg_twilio__sms_events"),
    model_key("int_events_stitched"),
]


def _targets() -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "campaign_id": c.id,
                "target_event": c.target_event,
                "attribution_window_days": c.attribution_window_days,
            }
            for c in load_campaigns(settings.campaigns_dir())
        ],
        columns=["campaign_id", "target_event", "attribution_window_days"],
    )


def _plans() -> dict[str, CampaignPlan]:
    return {c.id: CampaignPlan.from_campaign(c) for c in load_campaigns(settings.campaigns_dir())}


@dg.asset(
    partitions_def=daily_partitions,
    group_name="measurement",
    kinds={"duckdb", "python"},
    deps=MEASUREMENT_DEPS,
    owners=["team:analytics"],
)
def campaign_results(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Per assignment day: assignments, sends, deliveries, opens, clicks and conversions (rows, not users)."""
    run_date = date.fromisoformat(context.partition_key)
    with warehouse.connect() as con:
        results = compute_campaign_results(con, run_date, _targets())
        write_campaign_results(con, results)
    today = results[results["run_date"] == pd.Timestamp(run_date).date()]
    table = (
        today.drop(columns=["computed_at", "run_date"]).to_markdown(index=False)
        if len(today)
        else "No assignments."
    )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(results),
            "assigned_today": int(today["assigned"].sum()) if len(today) else 0,
            "sent_today": int(today["sent"].sum()) if len(today) else 0,
            "results_today": dg.MetadataValue.md(table),
        }
    )


@dg.asset(
    partitions_def=daily_partitions,
    group_name="measurement",
    kinds={"duckdb", "python"},
    deps=[*MEASUREMENT_DEPS, model_key("fct_user_daily_activity"), dg.AssetKey(["campaign_results"])],
    owners=["team:analytics"],
)
def campaign_measurement(
    context: dg.AssetExecutionContext, config: MeasurementConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Per-user outcomes from each user's first assignment, lifts, sequential decisions, SRM and guardrails.

    Each user counts once per campaign (in the arm and variant of their first assignment), from that
    assignment's scheduled send time over the campaign's attribution window. Writes
    measurement.assignment_outcomes, campaign_summary, campaign_comparisons, campaign_srm,
    guardrail_metrics, campaign_daily, campaign_settings and campaign_guardrails (paused campaigns are
    skipped by the intervention engine the next day).
    """
    run_date = date.fromisoformat(context.partition_key)
    plans = _plans()
    with warehouse.connect() as con:
        outcomes = compute_outcomes(con, run_date, _targets(), config.pre_period_days)
        tables = analyse(outcomes, plans, run_date, config)
        written = write_tables(con, tables, outcomes)
    paused = tables.pauses[tables.pauses["paused"].astype(bool)] if len(tables.pauses) else tables.pauses
    for row in paused.itertuples():
        context.log.warning(f"campaign {row.campaign_id} paused by a guardrail: {row.reason}")
    won = winners(tables.comparisons) if len(tables.comparisons) else tables.comparisons
    decisions = (
        tables.comparisons[tables.comparisons["metric"] == "conversion"][
            ["campaign_id", "comparison", "variant", "baseline", "abs_lift", "seq_p_value", "decision"]
        ]
        if len(tables.comparisons)
        else pd.DataFrame()
    )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(outcomes),
            "matured_users": int(outcomes["matured"].sum()) if len(outcomes) else 0,
            "comparisons": len(tables.comparisons),
            "winners": dg.MetadataValue.json(
                [f"{r.campaign_id}:{r.variant}" for r in won.itertuples()] if len(won) else []
            ),
            "paused_campaigns": dg.MetadataValue.json(sorted(paused["campaign_id"]) if len(paused) else []),
            "srm_mismatches": int(tables.srm["mismatch"].sum()) if len(tables.srm) else 0,
            "tables_written": dg.MetadataValue.json(written),
            "decisions": dg.MetadataValue.md(
                decisions.to_markdown(index=False) if len(decisions) else "No comparisons yet."
            ),
        }
    )


@dg.asset(
    partitions_def=daily_partitions,
    group_name="measurement",
    kinds={"python", "html"},
    deps=[
        dg.AssetKey(["campaign_measurement"]),
        dg.AssetKey(["targeting_estimates"]),
        model_key("fct_user_features"),
    ],
    owners=["team:analytics"],
)
def campaign_report(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The marketer's report: $REENGAGE_HOME/reports/campaign_report_YYYY-MM-DD.html (self-contained)."""
    run_date = date.fromisoformat(context.partition_key)
    plans = _plans()
    folder = settings.home() / "reports"
    with warehouse.connect() as con:
        tables = read_tables(con, run_date)
        frames = {table.name: frame for table, frame in tables.items()}
        outcomes = as_frame(
            con.execute(
                "select customer_id, run_date, arm from measurement.assignment_outcomes where as_of = ?",
                [run_date],
            )
        )
        data = report_data(con, outcomes, run_date)
        # Drawing the plots is the cost; the tables they are drawn from are small to read and hash.
        inputs = fingerprints.fingerprint(
            frames={name: frame_fingerprint(df) for name, df in {**frames, **data.frames()}.items()},
            plans={campaign: dataclasses.asdict(plan) for campaign, plan in sorted(plans.items())},
            # Every module the page's words and plots come from (a new wording redraws it).
            code=fingerprints.code_digest(
                report_module,
                report_plots,
                report_verdict,
                report_glossary,
                report_names,
                report_stats,
                report_channels,
            ),
        )
        path = report_path(folder, run_date)
        recorded = fingerprints.unchanged_since(con, "campaign_report", run_date, inputs, _file_digest(path))
        if recorded is not None:
            reason = f"{recorded.describe()}: the tables it is drawn from and its file are the same"
            context.log.info(f"campaign_report for {run_date}: {reason}")
            return dg.MaterializeResult(
                metadata={"path": dg.MetadataValue.path(str(path)), "unchanged": reason}
            )
        report = build_report(tables, data, plans)
        path = write_report(report, folder)
        fingerprints.record(con, "campaign_report", run_date, inputs, _file_digest(path), context.run.run_id)
    metadata: dict[str, object] = {
        "path": dg.MetadataValue.path(str(path)),
        "report": dg.MetadataValue.md(report.markdown),
        "headlines": dg.MetadataValue.md(
            "\n".join(f"- {h}" for h in report.headlines) or "No campaigns yet."
        ),
    }
    for name, png in report.images.items():
        b64 = base64.b64encode(png).decode("ascii")
        metadata[f"plot_{name}"] = dg.MetadataValue.md(f"![{name}](data:image/png;base64,{b64})")
    return dg.MaterializeResult(metadata=metadata)


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "missing"
