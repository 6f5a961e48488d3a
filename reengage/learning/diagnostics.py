"""Holdout diagnostics for the churn model: calibration curve, permutation importance, small PNG plots.

Plots are rendered with matplotlib's Agg backend (no display) into small PNGs
(a few KB) and returned as Markdown with an embedded base64 image, which the
Dagster UI shows inline in asset metadata.
"""

from __future__ import annotations

import base64
import io

import numpy as np
import pandas as pd
from sklearn.calibration import calibration_curve
from sklearn.inspection import permutation_importance
from threadpoolctl import threadpool_limits

from reengage.learning.churn import BASELINE, TrainedModel
from reengage.learning.features import LABEL


def calibration_table(y: np.ndarray, proba: np.ndarray, n_bins: int = 10) -> pd.DataFrame:
    """Mean predicted vs observed churn per quantile bin of the prediction (rows: bins with data)."""
    observed, predicted = calibration_curve(y, proba, n_bins=n_bins, strategy="quantile")
    return pd.DataFrame({"mean_predicted": predicted, "observed_rate": observed})


def feature_importance(
    model: TrainedModel,
    holdout: pd.DataFrame,
    *,
    seed: int = 0,
    n_repeats: int = 3,
    max_rows: int = 20_000,
    n_threads: int | None = None,
) -> pd.DataFrame:
    """Permutation importance on the holdout: mean drop in ROC-AUC when a feature is shuffled.

    Sampled to `max_rows` (seeded) so a large holdout costs seconds, not minutes.
    """
    if len(holdout) > max_rows:
        holdout = holdout.sample(n=max_rows, random_state=seed).sort_index()
    features = list(model.features)
    with threadpool_limits(limits=n_threads):
        result = permutation_importance(
            model.pipeline,
            holdout[features],
            holdout[LABEL].to_numpy(),
            scoring="roc_auc",
            n_repeats=n_repeats,
            random_state=seed,
            n_jobs=1,
        )
    table = pd.DataFrame(
        {"feature": features, "importance": result.importances_mean, "std": result.importances_std}
    )
    return table.sort_values(["importance", "feature"], ascending=[False, True], ignore_index=True)


def _png_markdown(fig: object, title: str) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=72, bbox_inches="tight")  # type: ignore[attr-defined]
    plt.close(fig)  # type: ignore[arg-type]
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f"![{title}](data:image/png;base64,{encoded})"


def _figure(width: float = 4.0, height: float = 3.0):  # noqa: ANN202
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width, height))


def calibration_plot_md(table: pd.DataFrame) -> str:
    fig, ax = _figure()
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="perfect")
    ax.plot(table["mean_predicted"], table["observed_rate"], marker="o", label="model")
    ax.set_xlabel("mean predicted churn")
    ax.set_ylabel("observed churn rate")
    ax.set_title("Calibration (holdout)")
    ax.legend(loc="upper left", fontsize=8)
    return _png_markdown(fig, "calibration curve")


def importance_plot_md(table: pd.DataFrame) -> str:
    fig, ax = _figure(4.5, 3.0)
    ordered = table.iloc[::-1]
    ax.barh(ordered["feature"], ordered["importance"], xerr=ordered["std"], color="#4c72b0")
    ax.set_xlabel("ROC-AUC drop when shuffled")
    ax.set_title("Permutation importance (holdout)")
    ax.tick_params(axis="y", labelsize=8)
    return _png_markdown(fig, "feature importance")


def histogram_plot_md(proba: np.ndarray, title: str = "Churn probability") -> str:
    fig, ax = _figure(4.0, 2.5)
    ax.hist(proba, bins=20, range=(0, 1), color="#4c72b0")
    ax.set_xlabel("churn probability")
    ax.set_ylabel("customers")
    ax.set_title(title)
    return _png_markdown(fig, "score histogram")


def table_markdown(frame: pd.DataFrame, floatfmt: str = ".4f") -> str:
    """A small frame as a Markdown table (no tabulate dependency)."""
    header = "| " + " | ".join(map(str, frame.columns)) + " |"
    lines = [header, "|" + "---|" * len(frame.columns)]
    for row in frame.itertuples(index=False):
        cells = [format(v, floatfmt) if isinstance(v, float) else str(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def training_report(model: TrainedModel, *, seed: int = 0, n_threads: int | None = None) -> dict[str, object]:
    """Tables and plot Markdown for a freshly trained model (needs `model.holdout`)."""
    holdout = model.holdout
    if holdout is None or holdout.empty:
        return {}
    y = holdout[LABEL].to_numpy()
    with threadpool_limits(limits=n_threads):
        proba = model.predict_proba(holdout)
    calibration = calibration_table(y, proba)
    importance = feature_importance(model, holdout, seed=seed, n_threads=n_threads)
    return {
        "calibration": calibration,
        "importance": importance,
        "calibration_md": table_markdown(calibration) + "\n\n" + calibration_plot_md(calibration),
        "importance_md": table_markdown(importance) + "\n\n" + importance_plot_md(importance),
        "baseline_feature": BASELINE,
    }


def score_distribution(proba: np.ndarray) -> pd.DataFrame:
    """Deciles of the day's churn probabilities."""
    qs = np.linspace(0.0, 1.0, 11)
    return pd.DataFrame({"quantile": qs, "churn_probability": np.quantile(proba, qs)})
