"""The Dagster wrapper around the policy engine: one partition per run date."""

from datetime import UTC, date, datetime

import dagster as dg

from reengage import settings
from reengage.defs.interventions.campaigns import CampaignError, load_campaigns
from reengage.defs.interventions.policy import PolicyConfig, PolicyError, run_policy
from reengage.defs.interventions.preview import diff_with_stored
from reengage.defs.interventions.summary import counts_markdown, preview, suppression_counts
from reengage.defs.warehouse.assets import model_key
from reengage.partitions import daily_partitions
from reengage.warehouse import WarehouseResource

__all__ = ["intervention_list", "preview"]


@dg.asset(
    partitions_def=daily_partitions,
    group_name="interventions",
    kinds={"duckdb", "python"},
    deps=[
        model_key("fct_user_features"),
        model_key("fct_email_suppressions"),
        model_key("fct_user_responses"),
        dg.AssetKey(["churn_scores"]),
        dg.AssetKey(["uplift_scores"]),
        # Optional inputs: the policy falls back when these tables are absent. The measurement
        # guardrails (measurement.campaign_guardrails) are read too, but are no dependency:
        # they come from earlier days' results, downstream of this asset.
        dg.AssetKey(["preferred_send_hours"]),
    ],
)
def intervention_list(
    context: dg.AssetExecutionContext, config: PolicyConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Who gets which campaign and variant today, who is held out, and why everyone else is not."""
    run_date = date.fromisoformat(context.partition_key)
    try:
        # Read at run time so an edited campaign file is picked up without reloading code.
        campaigns = load_campaigns(settings.CAMPAIGNS_DIR)
    except CampaignError as error:
        raise dg.Failure(description=f"Invalid campaign files:\n{error}", allow_retries=False) from error
    now = datetime.now(UTC)
    try:
        with warehouse.connect() as con:
            result = run_policy(con, run_date, campaigns, config, now)
            change = diff_with_stored(con, run_date, result.counts)
    except PolicyError as error:
        raise dg.Failure(description=str(error), allow_retries=False) from error

    for note in result.notes:
        context.log.info(note)
    counts = result.counts
    holdout_by_campaign = {
        str(k): int(v)
        for k, v in counts[counts["reason"] == "campaign_holdout"].set_index("campaign_id")["n"].items()
    }
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": result.list_rows,
            "run_date": run_date.isoformat(),
            "decided_at": now.isoformat(timespec="seconds"),
            "campaigns": dg.MetadataValue.json(result.campaigns),
            "candidates": result.candidates,
            "treatment": result.treatment,
            "campaign_holdout": result.holdout,
            "global_holdout": int(counts.loc[counts["reason"] == "global_holdout", "n"].sum()),
            "holdout_by_campaign": dg.MetadataValue.json(holdout_by_campaign),
            "suppressed_by_reason": dg.MetadataValue.json(suppression_counts(counts)),
            # Not only candidates: every customer held back because their newest CRM row was refused.
            "unverified_profiles": result.unverified_profiles,
            # Each campaign's targeting of the day: rules, or a ranked mode with its model and explored rows.
            "targeting": dg.MetadataValue.json(result.targeting),
            "decisions": dg.MetadataValue.md(counts_markdown(counts)),
            "change_since_previous_day": dg.MetadataValue.md(change.markdown()),
            "notes": dg.MetadataValue.json(result.notes),
        }
    )
