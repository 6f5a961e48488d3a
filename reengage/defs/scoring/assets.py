"""Dagster assets for churn risk, behaviour clusters and send hours: thin wrappers over `models`.

The daily run applies fitted models; fitting is the weekly `model_training` job's work
(schedules.py). `churn_model` and `behaviour_cluster_model` are in the daily run too, but
there they fit only on a cold start (nothing fitted yet: the first run that can fit does) or
when the features contract changed (training.py); otherwise they name the model in force for
the day in a few milliseconds.

When the warehouse cannot support training (too little history, a single
label class), `churn_model` does not fail the run: it keeps the current model
and reports why. `churn_scores` then scores with the current model, or, if no
model has ever been promoted, writes no rows for the day and says so, so the
rest of the daily run (interventions without score triggers, delivery,
measurement) still happens. Real errors (bad SQL, a tampered model file) raise.

A rerun of a day repeats none of the daily steps whose inputs did not change: each records a
fingerprint of what it read (reengage/fingerprints.py) and skips, saying since which run
its output is unchanged, when the fingerprint and its stored output are the same.
"""

import dataclasses
from datetime import date
from typing import Any, Literal

import dagster as dg
import duckdb

import reengage.learning.churn
import reengage.learning.clusters
import reengage.learning.features
import reengage.learning.scoring
import reengage.learning.send_hour
from reengage import fingerprints, settings
from reengage.defs.scoring.contracts import churn_features_contract, cluster_features_contract
from reengage.defs.scoring.training import fit_decision
from reengage.defs.warehouse.assets import model_key
from reengage.learning import registry
from reengage.learning.churn import TrainedModel, TrainingConfig, TrainingError, train
from reengage.learning.clusters import (
    BEHAVIOUR_FEATURES,
    CLUSTERS_TABLE,
    ClusterConfig,
    assign_clusters,
    fit_clusters,
    load_cluster_model,
    profile_markdown,
    save_cluster_model,
    write_clusters,
)
from reengage.learning.diagnostics import (
    histogram_plot_md,
    score_distribution,
    table_markdown,
    training_report,
)
from reengage.learning.features import fetch_frame, snapshot_inputs
from reengage.learning.scoring import SCORES_TABLE, empty_scores, score, write_scores
from reengage.learning.send_hour import (
    SEND_HOURS_TABLE,
    SendHourConfig,
    read_customers,
    slot_inputs,
    write_send_hours,
)
from reengage.learning.send_hour import preferred_send_hours as choose_send_hours
from reengage.partitions import daily_partitions
from reengage.warehouse import WarehouseResource

# The lead will swap these for dagster-dbt helpers when the dbt project is wired.
DBT_INPUTS = [model_key("int_events_stitched"), model_key("stg_crm__customers")]
USER_FEATURES = model_key("fct_user_features")
USER_FEATURES_TABLE = "marts.fct_user_features"
QUARTER_HOURS = model_key("int_customer_quarter_hours")

_METRIC_KEYS = ("roc_auc", "pr_auc", "brier", "top_decile_lift")


class ChurnModelConfig(dg.Config):
    """Run-time knobs for training; the 14-day horizon is the churn label's (docs/meanings.md)."""

    # Train a candidate even when the promoted model is current and its features contract holds
    # (the weekly model_training job sets it; the daily run trains only when it has to).
    retrain: bool = False
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
    """Calibrated churn classifier for the day; trained weekly, on a cold start or a features change."""
    run_date = date.fromisoformat(context.partition_key)
    model_dir = settings.model_dir()
    with warehouse.connect(read_only=True) as con:
        contract = churn_features_contract(con)
        card = registry.current_card(model_dir)
        due = fit_decision(
            "churn model",
            card["model_version"] if card else None,
            card.get("features_contract", {}) if card else None,
            contract,
            requested=config.retrain,
            tried_under_contract=registry.trained_under(model_dir, dict(contract.parts)),
        )
        if not due.fit:
            context.log.info(due.reason)
            return dg.MaterializeResult(
                metadata={
                    "trained": False,
                    "model_version": card["model_version"],
                    "reason": due.reason,
                    "features_contract": contract.fingerprint,
                },
                data_version=dg.DataVersion(card["model_version"]),
            )
        context.log.info(due.reason)
        # A rerun of the day on the same rows would train the same model again (its version is a
        # digest of the data and config) and reach the same decision: skip it while the promoted
        # model is the one the earlier attempt left.
        training_config = config.to_training_config()
        inputs = fingerprints.fingerprint(
            contract=contract.fingerprint,
            config=training_config,
            rows=[fingerprints.rows_digest(con, sql, params) for sql, params in snapshot_inputs(run_date)],
            code=fingerprints.code_digest(reengage.learning.churn, reengage.learning.features, registry),
        )
        current = card["model_version"] if card else None
        kept = f"keeping {current or 'no model (scores will not be produced)'}"
        recorded = fingerprints.unchanged_since(con, "churn_model", run_date, inputs, current or "none")
        if recorded is not None:
            reason = (
                f"training {recorded.describe()}: this day's rows, config and features contract are "
                f"those it tried then; {kept}"
            )
            context.log.info(reason)
            return _not_trained(due.reason, reason, current, contract.fingerprint, unchanged=reason)
        try:
            model: TrainedModel | None = train(con, run_date, training_config, dict(contract.parts))
        except TrainingError as exc:
            model, untrainable = None, exc

    if model is None:
        reason = f"training skipped: {untrainable}; {kept}"
        context.log.warning(reason)
        _record_training(warehouse, context, run_date, inputs, current)
        return _not_trained(due.reason, reason, current, contract.fingerprint, promoted=False)

    decision = registry.promote_if_better(model_dir, model)
    _record_training(warehouse, context, run_date, inputs, decision.current_version)
    log = context.log.info if decision.promoted else context.log.warning
    log(decision.reason)
    metadata: dict[str, Any] = {
        "dagster/row_count": int(model.metrics["n_train"]) + int(model.metrics["n_holdout"]),
        "trained": True,
        "why_trained": due.reason,
        "cold_start": due.cold_start,
        "features_contract": contract.fingerprint,
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
    version = decision.current_version
    return dg.MaterializeResult(metadata=metadata, data_version=dg.DataVersion(version) if version else None)


@dg.asset(
    partitions_def=daily_partitions,
    group_name="scoring",
    kinds={"scikit-learn", "duckdb"},
    deps=[churn_model, *DBT_INPUTS],
)
def churn_scores(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Calibrated 14-day churn probability per customer for the run date (table scoring.churn_scores)."""
    run_date = date.fromisoformat(context.partition_key)
    model_version = registry.current_version(settings.model_dir())
    with warehouse.connect() as con:
        inputs = fingerprints.fingerprint(
            model=model_version,
            rows=[fingerprints.rows_digest(con, sql, params) for sql, params in snapshot_inputs(run_date)],
            code=fingerprints.code_digest(reengage.learning.features, reengage.learning.scoring),
        )
        unchanged = _unchanged(con, context, SCORES_TABLE, run_date, inputs)
        if unchanged is not None:
            return unchanged
        model = registry.load_current(settings.model_dir()) if model_version else None
        if model is None:
            reason = "no promoted churn model yet: no scores for this run date; downstream runs without them"
            context.log.warning(reason)
            write_scores(con, empty_scores(), run_date)
            _record(con, context, SCORES_TABLE, run_date, inputs)
            return dg.MaterializeResult(
                metadata={"dagster/row_count": 0, "model_version": "none", "reason": reason}
            )
        scores = score(con, model, run_date)
        rows = write_scores(con, scores, run_date)
        _record(con, context, SCORES_TABLE, run_date, inputs)
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


def _not_trained(
    why_trained: str, reason: str, current: str | None, contract: str, **extra: Any
) -> dg.MaterializeResult:
    """churn_model's result when a fit was due but no candidate was trained this run."""
    return dg.MaterializeResult(
        metadata={
            "trained": False,
            "why_trained": why_trained,
            "reason": reason,
            "model_version": current or "none",
            "features_contract": contract,
            **extra,
        },
        data_version=dg.DataVersion(current) if current else None,
    )


def _record_training(
    warehouse: WarehouseResource,
    context: dg.AssetExecutionContext,
    run_date: date,
    inputs: str,
    current: str | None,
) -> None:
    """Remember a training attempt's inputs and the promoted model it left (see churn_model)."""
    with warehouse.connect() as con:
        fingerprints.record(con, "churn_model", run_date, inputs, current or "none", context.run.run_id)


def _output_digest(con: duckdb.DuckDBPyConnection, table: str, run_date: date) -> str:
    return fingerprints.rows_digest(con, f"select * from {table} where run_date = $d", {"d": run_date})


def _unchanged(
    con: duckdb.DuckDBPyConnection, context: dg.AssetExecutionContext, table: str, run_date: date, inputs: str
) -> dg.MaterializeResult | None:
    """The result of a skipped step when its inputs and its rows for the day are as last recorded."""
    step = context.asset_key.to_user_string()
    recorded = fingerprints.unchanged_since(con, step, run_date, inputs, _output_digest(con, table, run_date))
    if recorded is None:
        return None
    (rows,) = con.execute(f"select count(*) from {table} where run_date = $d", {"d": run_date}).fetchall()[0]
    reason = f"{recorded.describe()}: its inputs' fingerprint and its rows for {run_date} are the same"
    context.log.info(f"{step} for {run_date}: {reason}")
    return dg.MaterializeResult(
        metadata={"dagster/row_count": int(rows), "unchanged": reason, "inputs_fingerprint": inputs}
    )


def _record(
    con: duckdb.DuckDBPyConnection, context: dg.AssetExecutionContext, table: str, run_date: date, inputs: str
) -> None:
    output = _output_digest(con, table, run_date)
    fingerprints.record(con, context.asset_key.to_user_string(), run_date, inputs, output, context.run.run_id)


class BehaviourClusterModelConfig(dg.Config):
    """k-means settings; k is chosen by (sampled) silhouette in k_min..k_max."""

    # Refit even when a model exists and its features contract holds (the weekly model_training job
    # sets it; the daily run fits only on a cold start or a contract change).
    refit: bool = False
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


def _behaviour_frame(con: duckdb.DuckDBPyConnection) -> Any:
    columns = ", ".join(["customer_id", *BEHAVIOUR_FEATURES])
    return fetch_frame(con, f"select {columns} from {USER_FEATURES_TABLE} order by customer_id", {})


@dg.asset(
    partitions_def=daily_partitions,
    group_name="scoring",
    kinds={"scikit-learn", "duckdb"},
    deps=[USER_FEATURES],
)
def behaviour_cluster_model(
    context: dg.AssetExecutionContext, config: BehaviourClusterModelConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """k-means behaviour clusters for the day; fitted weekly, on a cold start or a features change."""
    run_date = date.fromisoformat(context.partition_key)
    model_dir = settings.model_dir()
    current = load_cluster_model(model_dir)
    with warehouse.connect(read_only=True) as con:
        contract = cluster_features_contract(con, USER_FEATURES_TABLE)
        due = fit_decision(
            "behaviour cluster model",
            current.version if current else None,
            current.features_contract if current else None,
            contract,
            requested=config.refit,
        )
        context.log.info(due.reason)
        if not due.fit:
            return dg.MaterializeResult(
                metadata={
                    "fitted": False,
                    "cluster_model": current.version,
                    "fitted_on": current.fitted_on,
                    "k": current.k,
                    "reason": due.reason,
                    "features_contract": contract.fingerprint,
                },
                data_version=dg.DataVersion(current.version),
            )
        frame = _behaviour_frame(con)
    try:
        fitted = fit_clusters(frame, config.to_cluster_config(), fitted_on=run_date)
    except ValueError as exc:
        reason = f"no clusters fitted for {run_date}: {exc}; keeping {current.version if current else 'none'}"
        context.log.warning(reason)
        return dg.MaterializeResult(metadata={"fitted": False, "why_fitted": due.reason, "reason": reason})
    fitted = dataclasses.replace(fitted, features_contract=dict(contract.parts))
    save_cluster_model(model_dir, fitted)
    silhouettes = "\n".join(
        ["| k | silhouette (sampled) |", "|---|---|"]
        + [
            f"| {k}{' (chosen)' if k == fitted.k else ''} | {s:.4f} |"
            for k, s in fitted.silhouette_by_k.items()
        ]
    )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": fitted.fitted_customers,
            "fitted": True,
            "why_fitted": due.reason,
            "cold_start": due.cold_start,
            "cluster_model": fitted.version,
            "fitted_on": fitted.fitted_on,
            "k": fitted.k,
            "silhouette": float(fitted.silhouette_by_k[fitted.k]),
            "silhouette_by_k": dg.MetadataValue.md(silhouettes),
            "labels": dg.MetadataValue.json(dict(enumerate(fitted.labels))),
            "features_contract": contract.fingerprint,
        },
        data_version=dg.DataVersion(fitted.version),
    )


@dg.asset(
    partitions_def=daily_partitions,
    group_name="scoring",
    kinds={"scikit-learn", "duckdb"},
    deps=[behaviour_cluster_model, USER_FEATURES],
)
def behaviour_clusters(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Behaviour cluster and label per customer: the nearest fitted cluster (scoring.behaviour_clusters)."""
    run_date = date.fromisoformat(context.partition_key)
    model = load_cluster_model(settings.model_dir())
    with warehouse.connect() as con:
        columns = ", ".join(["customer_id", *BEHAVIOUR_FEATURES])
        inputs = fingerprints.fingerprint(
            model=model.version if model else None,
            rows=fingerprints.rows_digest(con, f"select {columns} from {USER_FEATURES_TABLE}"),
            code=fingerprints.code_digest(reengage.learning.clusters),
        )
        unchanged = _unchanged(con, context, CLUSTERS_TABLE, run_date, inputs)
        if unchanged is not None:
            return unchanged
        frame = _behaviour_frame(con)
        if model is None:
            reason = f"no behaviour cluster model fitted yet: no clusters for {run_date}"
            context.log.warning(reason)
            write_clusters(con, frame.iloc[:0].assign(cluster_id=0, cluster_label=""), run_date)
            _record(con, context, CLUSTERS_TABLE, run_date, inputs)
            return dg.MaterializeResult(metadata={"dagster/row_count": 0, "reason": reason})
        result = assign_clusters(model, frame)
        rows = write_clusters(con, result.assignments, run_date)
        _record(con, context, CLUSTERS_TABLE, run_date, inputs)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            "cluster_model": model.version,
            "fitted_on": model.fitted_on,
            "k": result.k,
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
    deps=[USER_FEATURES, QUARTER_HOURS],
)
def preferred_send_hours(
    context: dg.AssetExecutionContext, config: PreferredSendHoursConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Preferred local send hour per customer, with a segment fallback (scoring.preferred_send_hours)."""
    run_date = date.fromisoformat(context.partition_key)
    send_hour_config = config.to_send_hour_config()
    with warehouse.connect() as con:
        slots_sql, slots_params = slot_inputs(run_date, send_hour_config)
        inputs = fingerprints.fingerprint(
            rows=fingerprints.rows_digest(con, slots_sql, slots_params),
            customers=fingerprints.rows_digest(
                con, f"select customer_id, timezone, segment from {USER_FEATURES_TABLE}"
            ),
            config=send_hour_config,
            code=fingerprints.code_digest(reengage.learning.send_hour),
        )
        unchanged = _unchanged(con, context, SEND_HOURS_TABLE, run_date, inputs)
        if unchanged is not None:
            return unchanged
        customers = read_customers(con, USER_FEATURES_TABLE)
        hours = choose_send_hours(con, run_date, customers, send_hour_config)
        rows = write_send_hours(con, hours, run_date)
        _record(con, context, SEND_HOURS_TABLE, run_date, inputs)
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
