"""Measurement: what happened after each assignment, by campaign, variant and arm."""

from datetime import date

import dagster as dg
import pandas as pd

from orchestration import settings
from orchestration.defs.interventions.campaigns import load_campaigns
from orchestration.defs.measurement.results import compute_campaign_results, write_campaign_results
from orchestration.defs.warehouse.assets import model_key
from orchestration.partitions import daily_partitions
from orchestration.warehouse import WarehouseResource


@dg.asset(
    partitions_def=daily_partitions,
    group_name="measurement",
    kinds={"duckdb", "python"},
    deps=[
        dg.AssetKey(["campaign_sends"]),
        model_key("stg_sendgrid__email_events"),
        model_key("int_events_stitched"),
    ],
    owners=["team:analytics"],
)
def campaign_results(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Sends, deliveries, opens, clicks and conversions per campaign, variant and arm, for every day so far."""
    run_date = date.fromisoformat(context.partition_key)
    targets = pd.DataFrame(
        [
            {"campaign_id": c.id, "target_event": c.target_event, "attribution_window_days": c.attribution_window_days}
            for c in load_campaigns(settings.CAMPAIGNS_DIR)
        ]
    )
    with warehouse.connect() as con:
        results = compute_campaign_results(con, run_date, targets)
        write_campaign_results(con, results)
    today = results[results["run_date"] == pd.Timestamp(run_date).date()]
    table = today.drop(columns=["computed_at", "run_date"]).to_markdown(index=False) if len(today) else "No assignments."
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(results),
            "assigned_today": int(today["assigned"].sum()) if len(today) else 0,
            "sent_today": int(today["sent"].sum()) if len(today) else 0,
            "results_today": dg.MetadataValue.md(table),
        }
    )
