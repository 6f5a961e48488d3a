"""Each campaign's targeting judged before it goes live, on its own logged decisions, about weekly.

For every enabled campaign with enough matured randomized decisions in the look-back, the
candidates of `reengage.learning.uplift.judging` (as run, every contender, random, churn risk and uplift
at the campaign's budget share, or `budget_share` for a campaign without one) are judged by
their doubly robust incremental conversions, and written to measurement.targeting_estimates.
The report and the dry-run preview show the latest judgement of each campaign.

Judging fits outcome and uplift models for every campaign: seconds each, not worth repeating
daily when a week of decisions changes the answer little. A campaign is judged again once its
latest judgement is `judge_every_days` old; a rerun of a day already judged keeps that day's.
"""

from datetime import date

import dagster as dg
import duckdb
import pandas as pd

from reengage import settings
from reengage.defs.interventions.campaigns import DEFAULT_EXPLORATION_SHARE, Campaign, load_campaigns
from reengage.defs.warehouse.assets import model_key
from reengage.learning.uplift.examples import ExampleSpec, decision_examples
from reengage.learning.uplift.judging import (
    MIN_DAYS,
    MIN_EXAMPLES,
    candidate_chances,
    cross_fitted_uplift,
    judge_targetings,
)
from reengage.learning.uplift.learner import LearnerConfig
from reengage.partitions import daily_partitions
from reengage.schema.declared import TARGETING_ESTIMATES
from reengage.schema.migrations import require
from reengage.tables import as_frame, transaction
from reengage.warehouse import WarehouseResource


class TargetingEstimatesConfig(dg.Config):
    """How often and on what each campaign's targeting is judged."""

    judge_every_days: int = 7
    lookback_days: int = 56
    # The budget the ranked candidates are judged at for a campaign that sets none of its own.
    budget_share: float = 0.3
    seed: int = 0


def latest_estimates(con: duckdb.DuckDBPyConnection, run_date: date) -> pd.DataFrame:
    """Each campaign's latest judgement on or before `run_date` (TARGETING_ESTIMATES' columns)."""
    require(con, TARGETING_ESTIMATES)
    return as_frame(
        con.execute(
            f"""
        select {TARGETING_ESTIMATES.column_list()}
        from {TARGETING_ESTIMATES.name}
        where run_date <= ?
        qualify run_date = max(run_date) over (partition by campaign_id)
        order by campaign_id, incremental_per_1000 desc""",
            [run_date],
        )
    )


def _due(latest: pd.DataFrame, campaigns: list[Campaign], run_date: date, every: int) -> list[Campaign]:
    judged_on = dict(zip(latest["campaign_id"], pd.to_datetime(latest["run_date"]).dt.date, strict=True))
    return [c for c in campaigns if c.id not in judged_on or (run_date - judged_on[c.id]).days >= every]


def judge_campaign(
    examples: pd.DataFrame, campaign: Campaign, config: TargetingEstimatesConfig
) -> tuple[pd.DataFrame | None, str]:
    """The campaign's candidates judged (TARGETING_ESTIMATES' rows without run_date), or why not."""
    if len(examples) < MIN_EXAMPLES:
        return None, f"{len(examples)} matured randomized decisions, fewer than the {MIN_EXAMPLES} needed"
    if examples["run_date"].nunique() < MIN_DAYS:
        days = examples["run_date"].nunique()
        return None, f"matured decisions of {days} day(s), fewer than the {MIN_DAYS} needed"
    try:
        uplift = cross_fitted_uplift(examples, LearnerConfig(seed=config.seed))
        note = ""
    except ValueError as error:  # a day without one of the arms, too few rows in a fold
        uplift, note = None, f"; uplift at budget not judged: {error}"
    targeting = campaign.targeting
    chances = candidate_chances(
        examples,
        budget_share=targeting.budget_share or config.budget_share,
        exploration_share=targeting.exploration_share or DEFAULT_EXPLORATION_SHARE,
        min_uplift=targeting.min_uplift,
        uplift=uplift,
    )
    judged = judge_targetings(examples, chances, seed=config.seed)
    days = examples["run_date"]
    judged = judged.rename(columns={"rows": "decisions"}).assign(
        campaign_id=campaign.id, first_day=days.min(), last_day=days.max()
    )
    return judged, f"judged on {len(examples)} decisions of {days.min()} to {days.max()}{note}"


@dg.asset(
    partitions_def=daily_partitions,
    group_name="measurement",
    kinds={"scikit-learn", "duckdb"},
    deps=[
        dg.AssetKey(["intervention_list"]),
        model_key("int_events_stitched"),
        model_key("stg_crm__customers"),
    ],
    owners=["team:analytics"],
)
def targeting_estimates(
    context: dg.AssetExecutionContext, config: TargetingEstimatesConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """What each campaign's candidate targetings would have achieved, judged on its logged decisions."""
    run_date = date.fromisoformat(context.partition_key)
    campaigns = [c for c in load_campaigns(settings.campaigns_dir()) if c.enabled]
    outcome: dict[str, str] = {}
    with warehouse.connect() as con:
        due = _due(latest_estimates(con, run_date), campaigns, run_date, config.judge_every_days)
        for campaign in campaigns:
            if campaign not in due:
                outcome[campaign.id] = f"judged within the last {config.judge_every_days} days"
        specs = [ExampleSpec(c.id, c.target_event, c.attribution_window_days) for c in due]
        examples = decision_examples(con, specs, run_date, config.lookback_days)
        judged = []
        for campaign in due:
            rows, why = judge_campaign(examples[campaign.id], campaign, config)
            outcome[campaign.id] = why
            if rows is not None:
                judged.append(rows.assign(run_date=run_date))
        if judged:
            new = pd.concat(judged, ignore_index=True)
            TARGETING_ESTIMATES.check_columns(list(new.columns))
            con.register("_judged", new)
            try:
                with transaction(con):
                    con.execute(
                        f"delete from {TARGETING_ESTIMATES.name} where run_date = ? and campaign_id in "
                        "(select distinct campaign_id from _judged)",
                        [run_date],
                    )
                    con.execute(f"insert into {TARGETING_ESTIMATES.name} by name select * from _judged")
            finally:
                con.unregister("_judged")
        latest = latest_estimates(con, run_date)
    for campaign_id, why in sorted(outcome.items()):
        context.log.info(f"targeting of {campaign_id}: {why}")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": sum(len(rows) for rows in judged),
            "campaigns_judged": dg.MetadataValue.json(
                sorted({str(r["campaign_id"].iloc[0]) for r in judged})
            ),
            "why": dg.MetadataValue.json(outcome),
            "latest": dg.MetadataValue.md(estimates_markdown(latest) or "No campaign judged yet."),
        }
    )


def estimates_markdown(latest: pd.DataFrame) -> str:
    """One small table per campaign: candidates with their incremental conversions per 1,000 decisions."""
    parts = []
    for campaign_id, rows in latest.groupby("campaign_id", sort=True):
        first = rows.iloc[0]
        lines = [
            f"**{campaign_id}**: judged on {int(first['decisions'])} decisions of "
            f"{first['first_day']:%Y-%m-%d} to {first['last_day']:%Y-%m-%d}",
            "",
            "| targeting | sends per 1,000 | extra conversions per 1,000 (95% interval) |",
            "|---|---:|---:|",
        ]
        for row in rows.itertuples():
            lines.append(
                f"| {row.targeting} | {row.sends_per_1000:.0f} | {row.incremental_per_1000:+.1f} "
                f"({row.incremental_per_1000_low:+.1f} to {row.incremental_per_1000_high:+.1f}) |"
            )
        parts.append("\n".join(lines))
    return "\n\n".join(parts)
