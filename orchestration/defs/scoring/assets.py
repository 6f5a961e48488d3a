"""Dagster assets for churn risk: thin wrappers over the `models` package.

When the warehouse cannot support training (too little history, a single
label class), `churn_model` does not fail the run: it keeps the current model
and reports why. `churn_scores` then scores with the current model, or, if no
model has ever been promoted, writes no rows for the day and says so, so the
rest of the daily run (interventions without score triggers, delivery,
measurement) still happens. Real errors (bad SQL, a tampered model file) raise.
"""

from datetime import date
from typing import Any, Literal

import dagster as dg

from models import registry
from models.churn import TrainedModel, TrainingConfig, TrainingError, train
from models.clusters import ClusterConfig, cluster_behaviour, profile_markdown, write_clusters
from models.diagnostics import histogram_plot_md, score_distribution, table_markdown, training_report
from models.features import fetch_frame
from models.scoring import empty_scores, score, write_scores
from models.send_hour import SendHourConfig, read_customers, write_send_hours
from models.send_hour import preferred_send_hours as choose_send_hours
from orchestration import settings
from orchestration.defs.warehouse.assets import model_key
from orchestration.partitions import daily_partitions
from orchestration.warehouse import WarehouseResource

# The lead will swap these for dagster-dbt helpers when the dbt project is wired.
DBT_INPUTS = [model_key("int_events_stitched"), model_key("stg_crm__customers")]
USER_FEATURES = model_key("fct_user_features")
USER_FEATURES_TABLE = "marts.fct_user_features"

_METRIC_KEYS = ("roc_auc", "pr_auc", "brier", "top_decile_lift")


class ChurnModelConfig(dg.Config):
    """Run-time knobs for training; the 14-day horizon is the churn label's (docs/meanings.md)."""

    horizon_days: int = 14
    snapshot_every_days: int = 7
    max_snapshots: int = 12
    warmup_days: int = 28
    seed: int = 0
    calibration: Literal["auto", "isotonic", "sigmoid"] = "auto"
    max_training_rows: int = 500_000
    # None = all cores; set 1 when other steps share the machine (oversubscribed OpenMP is slower).
    n_threads: int | None = None

    def to_training_config(self) -> TrainingConfig:
        return TrainingConfig(
            horizon_days=self.horizon_days,
            snapshot_every_days=self.snapshot_every_days,
            max_snapshots=self.max_snapshots,
            warmup_days=self.warmup_days,
            seed=self.seed,
            calibration=self.calibration,
            max_training_rows=self.max_training_rows,
            n_threads=self.n_threads,
        )


def _metrics_table(model: TrainedModel) -> str:
    m = model.metrics
    rows = [
        "| metric (holdout) | model | recency baseline |",
        "|---|---|---|",
        f"| ROC-AUC | {m['roc_auc']:.4f} | {m['baseline_roc_auc']:.4f} |",
        f"| PR-AUC | {m['pr_auc']:.4f} | {m['baseline_pr_auc']:.4f} |",
        f"| top-decile lift | {m['top_decile_lift']:.3f} | {m['baseline_top_decile_lift']:.3f} |",
        f"| Brier | {m['brier']:.4f} | n/a |",
        f"| mean predicted / actual churn | {m['mean_predicted']:.3f} / {m['holdout_churn_rate']:.3f} | |",
    ]
    return "\n".join(rows)


@dg.asset(
    partitions_def=daily_partitions,
    group_name="scoring",
    kinds={"scikit-learn", "duckdb"},
    deps=DBT_INPUTS,
)
def churn_model(
    context: dg.AssetExecutionContext, config: ChurnModelConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Calibrated churn classifier, promoted only if it beats the recency baseline and the current model."""
    run_date = date.fromisoformat(context.partition_key)
    model_dir = settings.model_dir()
    try:
        with warehouse.connect(read_only=True) as con:
            model = train(con, run_date, config.to_training_config())
    except TrainingError as exc:
        current = registry.current_version(model_dir)
        reason = f"training skipped: {exc}; keeping {current or 'no model (scores will not be produced)'}"
        context.log.warning(reason)
        return dg.MaterializeResult(
            metadata={
                "promoted": False,
                "reason": reason,
                "model_version": current or "none",
            }
        )

    decision = registry.promote_if_better(model_dir, model)
    log = context.log.info if decision.promoted else context.log.warning
    log(decision.reason)
    metadata: dict[str, Any] = {
        "dagster/row_count": int(model.metrics["n_train"]) + int(model.metrics["n_holdout"]),
        "model_version": decision.current_version or "none",
        "candidate_version": model.model_version,
        "promoted": decision.promoted,
        "reason": decision.reason,
        **{key: float(model.metrics[key]) for key in _METRIC_KEYS},
        "baseline_roc_auc": float(model.metrics["baseline_roc_auc"]),
        "n_train": int(model.metrics["n_train"]),
        "n_holdout": int(model.metrics["n_holdout"]),
        "holdout_snapshot": model.training_window.holdout_snapshot.isoformat(),
        "training_window": dg.MetadataValue.json(model.training_window.to_dict()),
        "data_fingerprint": model.data_fingerprint,
        "metrics": dg.MetadataValue.md(_metrics_table(model)),
    }
    # Diagnostics are for people; a plotting problem must never cost the day's model.
    try:
        report = training_report(model, seed=config.seed, n_threads=config.n_threads)
    except Exception as exc:  # noqa: BLE001
        context.log.warning(f"training diagnostics skipped: {exc!r}")
        report = {}
    if report:  # they describe the candidate, promoted or not
        metadata["diagnostics_model_version"] = model.model_version
        metadata["calibration"] = dg.MetadataValue.md(report["calibration_md"])
        metadata["feature_importance"] = dg.MetadataValue.md(report["importance_md"])
        top = report["importance"].iloc[0]
        metadata["top_feature"] = f"{top['feature']} (ROC-AUC drop {top['importance']:.4f})"
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    partitions_def=daily_partitions,
    group_name="scoring",
    kinds={"scikit-learn", "duckdb"},
    deps=[churn_model, *DBT_INPUTS],
)
def churn_scores(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Calibrated 14-day churn probability per customer for the run date (table scoring.churn_scores)."""
    run_date = date.fromisoformat(context.partition_key)
    model = registry.load_current(settings.model_dir())
    with warehouse.connect() as con:
        if model is None:
            reason = "no promoted churn model yet: no scores for this run date; downstream runs without them"
            context.log.warning(reason)
            write_scores(con, empty_scores(), run_date)
            return dg.MaterializeResult(
                metadata={"dagster/row_count": 0, "model_version": "none", "reason": reason}
            )
        scores = score(con, model, run_date)
        rows = write_scores(con, scores, run_date)
    probabilities = scores["churn_probability"]
    metadata: dict[str, Any] = {
        "dagster/row_count": rows,
        "model_version": model.model_version,
        "mean_churn_probability": float(probabilities.mean()) if rows else 0.0,
        "share_above_0_5": float((probabilities > 0.5).mean()) if rows else 0.0,
        "model_holdout_roc_auc": float(model.metrics["roc_auc"]),
        "baseline_holdout_roc_auc": float(model.metrics["baseline_roc_auc"]),
    }
    if rows:
        values = probabilities.to_numpy(dtype=float)
        metadata["score_distribution"] = dg.MetadataValue.md(
            table_markdown(score_distribution(values))
            + "\n\n"
            + histogram_plot_md(values, f"Churn scores {run_date}")
        )
    return dg.MaterializeResult(metadata=metadata)


class BehaviourClustersConfig(dg.Config):
    """k-means settings; k is chosen by (sampled) silhouette in k_min..k_max."""

    k_min: int = 3
    k_max: int = 8
    seed: int = 0
    silhouette_sample: int = 5_000
    max_fit_rows: int = 50_000

    def to_cluster_config(self) -> ClusterConfig:
        return ClusterConfig(
            k_min=self.k_min,
            k_max=self.k_max,
            seed=self.seed,
            silhouette_sample=self.silhouette_sample,
            max_fit_rows=self.max_fit_rows,
        )


@dg.asset(
    partitions_def=daily_partitions,
    group_name="scoring",
    kinds={"scikit-learn", "duckdb"},
    deps=[USER_FEATURES],
)
def behaviour_clusters(
    context: dg.AssetExecutionContext, config: BehaviourClustersConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Behaviour cluster and readable label per customer, k by silhouette (scoring.behaviour_clusters)."""
    run_date = date.fromisoformat(context.partition_key)
    with warehouse.connect() as con:
        frame = fetch_frame(con, f"select * from {USER_FEATURES_TABLE} order by customer_id", {})
        try:
            result = cluster_behaviour(frame, config.to_cluster_config())
        except ValueError as exc:
            reason = f"no clusters for {run_date}: {exc}"
            context.log.warning(reason)
            write_clusters(con, frame.iloc[:0].assign(cluster_id=0, cluster_label=""), run_date)
            return dg.MaterializeResult(metadata={"dagster/row_count": 0, "reason": reason})
        rows = write_clusters(con, result.assignments, run_date)
    silhouettes = "\n".join(
        ["| k | silhouette (sampled) |", "|---|---|"]
        + [
            f"| {k}{' (chosen)' if k == result.k else ''} | {s:.4f} |"
            for k, s in result.silhouette_by_k.items()
        ]
    )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            "k": result.k,
            "silhouette": float(result.silhouette_by_k[result.k]),
            "silhouette_by_k": dg.MetadataValue.md(silhouettes),
            "profile": dg.MetadataValue.md(profile_markdown(result)),
            "labels": dg.MetadataValue.json({str(k): v for k, v in result.labels.items()}),
        }
    )


class PreferredSendHoursConfig(dg.Config):
    """How much history makes a customer's own hour trustworthy, and the fallbacks' thresholds."""

    lookback_days: int = 90
    min_user_slots: int = 5
    min_segment_users: int = 20
    default_hour: int = 10

    def to_send_hour_config(self) -> SendHourConfig:
        return SendHourConfig(
            lookback_days=self.lookback_days,
            min_user_slots=self.min_user_slots,
            min_segment_users=self.min_segment_users,
            default_hour=self.default_hour,
        )


@dg.asset(
    partitions_def=daily_partitions,
    group_name="scoring",
    kinds={"duckdb"},
    deps=[USER_FEATURES, model_key("int_events_stitched")],
)
def preferred_send_hours(
    context: dg.AssetExecutionContext, config: PreferredSendHoursConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Preferred local send hour per customer, with a segment fallback (scoring.preferred_send_hours)."""
    run_date = date.fromisoformat(context.partition_key)
    with warehouse.connect() as con:
        customers = read_customers(con, USER_FEATURES_TABLE)
        hours = choose_send_hours(con, run_date, customers, config.to_send_hour_config())
        rows = write_send_hours(con, hours, run_date)
    by_source = hours["source"].value_counts().reindex(["user", "segment", "default"], fill_value=0)
    by_hour = hours["preferred_local_hour"].value_counts().sort_index()
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            **{f"customers_{name}": int(n) for name, n in by_source.items()},
            "hour_distribution": dg.MetadataValue.md(
                table_markdown(by_hour.rename_axis("local_hour").reset_index(name="customers"))
            ),
        }
    )
