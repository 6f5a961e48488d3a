"""Uplift models for the campaigns that target by uplift: fitted from their own decisions, applied daily.

For every enabled campaign with `targeting: {mode: uplift}`, the asset

1. fits a candidate (reengage.learning.uplift.training: earlier days train, the latest days judge) from
   the campaign's matured randomized decisions (reengage.learning.uplift.examples) when one is due: at
   the first run with enough examples, then once every `refit_every_days` (or when the weekly
   `model_training` job asks with `retrain: true`). It learns from half the users and is judged
   on the other half's latest days; the registry promotes it only when its Qini coefficient's
   99% interval is above 0, random targeting (and it matches the current model on the same rows);
2. predicts every customer's uplift for the run date with the campaign's promoted model, into
   scoring.uplift_scores, which the policy ranks by. A campaign without a promoted model gets
   no predictions, and the policy draws its budget at random among the users its trigger rules
   select (its cold start) and says so.

Why fits are spaced out and not daily: each promotion is a test at the interval's level, and a
campaign whose message does nothing would eventually pass one by chance if it were tried every
day. Spacing them keeps a model out of a no-effect campaign, and a week of decisions adds enough
to be worth a new fit. An attempt is recorded (operations.step_inputs, step `uplift_model/<id>`)
only when the examples sufficed to fit, so a young campaign is tried as soon as it can be.
"""

from dataclasses import dataclass
from datetime import date

import dagster as dg
import duckdb
import pandas as pd

from reengage import fingerprints, settings
from reengage.defs.interventions.campaigns import Campaign, load_campaigns
from reengage.defs.warehouse.assets import model_key
from reengage.learning.churn import TrainingError
from reengage.learning.features import FEATURES, snapshot_features
from reengage.learning.uplift import registry as uplift_registry
from reengage.learning.uplift.examples import ExampleSpec, decision_examples
from reengage.learning.uplift.training import UpliftConfig, train_and_evaluate
from reengage.partitions import daily_partitions
from reengage.schema.declared import STEP_INPUTS, UPLIFT_SCORES
from reengage.tables import replace_run_date, transaction
from reengage.warehouse import WarehouseResource

SCORE_COLUMNS = ["customer_id", "campaign_id", "predicted_uplift", "model_version"]


class UpliftModelConfig(dg.Config):
    """When uplift models are fitted, on what, and how they are judged."""

    # Fit a candidate for every uplift campaign whatever its last attempt (the weekly job sets it).
    retrain: bool = False
    refit_every_days: int = 7
    lookback_days: int = 90
    holdout_share: float = 0.3  # the latest whole days holding this share of examples judge the model
    min_training_rows: int = 500
    min_evaluation_rows: int = 200
    min_rows_per_arm: int = 50
    # Half the users (by a hash of campaign and user) judge each candidate; the rest train it.
    judging_user_share: float = 0.5
    # A 99% interval: its lower end is a one-sided test at 0.5%, because a campaign is judged
    # again every week and a 2.5% gate would let a no-effect campaign through within months.
    confidence: float = 0.99
    bootstrap: int = 500
    seed: int = 0


@dataclass(frozen=True)
class CampaignUplift:
    """What the asset did for one campaign, in words and numbers only."""

    campaign_id: str
    model_version: str | None
    fit: str  # why a candidate was or was not fitted, and what became of it
    scored: int = 0

    def to_metadata(self) -> dict[str, object]:
        return {
            "model_version": self.model_version or "none",
            "fit": self.fit,
            "customers_scored": self.scored,
        }


def uplift_campaigns() -> list[Campaign]:
    return [c for c in load_campaigns(settings.campaigns_dir()) if c.enabled and c.targeting.mode == "uplift"]


def _step(campaign: Campaign) -> str:
    return f"uplift_model/{campaign.id}"


def _last_attempt(con: duckdb.DuckDBPyConnection, campaign: Campaign, run_date: date) -> date | None:
    row = con.execute(
        f"select max(run_date) from {STEP_INPUTS.name} where step = ? and run_date <= ?",
        [_step(campaign), run_date],
    ).fetchone()
    return row[0] if row else None


def _training_config(campaign: Campaign, config: UpliftModelConfig) -> UpliftConfig:
    return UpliftConfig(
        campaign_id=campaign.id,
        target=f"{campaign.target_event} within {campaign.attribution_window_days} days",
        treatment_column="treated",
        outcome_column="converted",
        propensity_column="propensity",
        control_column="control",
        control_propensity_column="control_propensity",
        day_column="run_date",
        cluster_column="customer_id",
        features=FEATURES,
        holdout_share=config.holdout_share,
        min_training_rows=config.min_training_rows,
        min_evaluation_rows=config.min_evaluation_rows,
        min_rows_per_arm=config.min_rows_per_arm,
        judging_user_share=config.judging_user_share,
        confidence=config.confidence,
        bootstrap=config.bootstrap,
    )


def fit_if_due(
    con: duckdb.DuckDBPyConnection,
    campaign: Campaign,
    run_date: date,
    config: UpliftModelConfig,
    run_id: str,
) -> str:
    """Fit and judge a candidate when one is due; the sentence saying what happened."""
    last = _last_attempt(con, campaign, run_date)
    if not config.retrain and last is not None and (run_date - last).days < config.refit_every_days:
        return f"last fitted on {last}; the next fit is due {config.refit_every_days} days after it"
    spec = ExampleSpec(campaign.id, campaign.target_event, campaign.attribution_window_days)
    examples = decision_examples(con, [spec], run_date, config.lookback_days)[campaign.id]
    try:
        candidate = train_and_evaluate(examples, _training_config(campaign, config), source=campaign.id)
    except TrainingError as error:
        return f"not fitted: {error}"
    fingerprints.record(
        con, _step(campaign), run_date, candidate.data_fingerprint, candidate.model_version, run_id
    )
    decision = uplift_registry.promote_if_better(settings.model_dir() / "uplift", candidate)
    verdict = "promoted" if decision.promoted else "not promoted"
    qini = candidate.evaluation.qini
    return (
        f"fitted {candidate.model_version} on {len(examples)} decisions; Qini {qini.estimate:.4f} "
        f"[{qini.low:.4f}, {qini.high:.4f}]; {verdict}: {decision.reason}"
    )


def score_campaign(features: pd.DataFrame, campaign: Campaign) -> tuple[pd.DataFrame | None, str | None]:
    """Every customer's predicted uplift under the campaign's promoted model (None before one exists)."""
    model = uplift_registry.load_current(settings.model_dir() / "uplift", campaign.id)
    if model is None:
        return None, None
    scores = pd.DataFrame(
        {
            "customer_id": features["customer_id"].astype(str),
            "campaign_id": campaign.id,
            "predicted_uplift": model.predict_uplift(features),
            "model_version": model.model_version,
        }
    )
    return scores, model.model_version


@dg.asset(
    partitions_def=daily_partitions,
    group_name="scoring",
    kinds={"scikit-learn", "duckdb"},
    deps=[model_key("int_events_stitched"), model_key("stg_crm__customers")],
)
def uplift_scores(
    context: dg.AssetExecutionContext, config: UpliftModelConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Each uplift-targeted campaign's predicted effect per customer for the run date (scoring.uplift_scores).

    Reads earlier days' interventions.decisions (they are upstream in time, not in the graph).
    """
    run_date = date.fromisoformat(context.partition_key)
    campaigns = uplift_campaigns()
    done: list[CampaignUplift] = []
    frames: list[pd.DataFrame] = []
    with warehouse.connect() as con:  # migrated on open: scoring.uplift_scores exists
        features = snapshot_features(con, run_date) if campaigns else None
        for campaign in campaigns:
            fit = fit_if_due(con, campaign, run_date, config, context.run.run_id)
            scores, version = score_campaign(features, campaign)
            if scores is not None:
                frames.append(scores)
            done.append(CampaignUplift(campaign.id, version, fit, 0 if scores is None else len(scores)))
        rows = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=SCORE_COLUMNS)
        with transaction(con):
            written = replace_run_date(
                con, UPLIFT_SCORES.name, run_date, rows[SCORE_COLUMNS].assign(run_date=run_date)
            )
    for result in done:
        state = f"model {result.model_version}" if result.model_version else "no promoted model (cold start)"
        context.log.info(f"uplift for {result.campaign_id}: {state}; {result.fit}")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": written,
            "campaigns": dg.MetadataValue.json({r.campaign_id: r.to_metadata() for r in done}),
        }
    )
