"""Behaviour clusters: k-means on standardised behaviour features, k chosen by silhouette.

Shape of the method and why:

* Features are heavy-tailed counts (a few customers have hundreds of events),
  so each one goes through a signed ``log1p`` before ``StandardScaler``;
  otherwise k-means would spend its clusters on outliers.
* k is chosen in ``k_range`` by the silhouette score. The silhouette is
  O(n^2), so it is computed on a seeded sample (``silhouette_sample``); k-means
  itself is fitted on a seeded sample of at most ``max_fit_rows`` and then
  assigns every customer, so a million customers cost seconds.
* Determinism: every random choice takes ``seed``; and since k-means numbers
  its clusters arbitrarily, clusters are renumbered by a canonical order
  (size descending, then centroid), so the same input and seed always give the
  same ``cluster_id`` and ``cluster_label`` for every customer.
* Fit once, assign every day: `fit_clusters` learns a `ClusterModel` (the
  scaling, the centroids and their labels, a few kilobytes of JSON) and
  `assign_clusters` puts each customer in the nearest cluster. Between two fits
  a customer's cluster changes only when their behaviour does, and ids and
  labels keep their meaning from one day to the next.
* Each cluster is described by its distinguishing traits: the features whose
  cluster mean is furthest from the population mean in standardised units
  (|z| >= ``trait_min_z``), at most ``max_traits`` of them, phrased as "long
  inactive", "busy this week", "frequent buyer" and so on (``TRAIT_PHRASES``). The profile table gives every
  feature's mean (in original units) and z per cluster, so the label can
  always be checked against the numbers.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from sklearn.preprocessing import StandardScaler

from reengage.learning.tables import replace_run_date
from reengage.schema.declared import BEHAVIOUR_CLUSTERS

# Behaviour columns of marts.fct_user_features (one row per customer as of D).
BEHAVIOUR_FEATURES: tuple[str, ...] = (
    "days_since_last_active",
    "active_actions_7d",
    "active_actions_prior_28d",
    "sessions_28d",
    "events_28d",
    "purchases_90d",
    "revenue_90d",
    "tenure_days",
)

# Readable names (profile table) and (low, high) phrases (labels); unknown columns fall back to the name.
TRAIT_NAMES: dict[str, str] = {
    "days_since_last_active": "days since last active",
    "active_actions_7d": "active actions 7d",
    "active_actions_prior_28d": "active actions prior 28d",
    "sessions_28d": "sessions 28d",
    "events_28d": "events 28d",
    "active_days_28d": "active days 28d",
    "purchases_90d": "purchases 90d",
    "revenue_90d": "revenue 90d",
    "tenure_days": "tenure days",
    "activity_trend": "activity trend",
    "customer_value": "customer value",
}
TRAIT_PHRASES: dict[str, tuple[str, str]] = {
    "days_since_last_active": ("recently active", "long inactive"),
    "active_actions_7d": ("quiet this week", "busy this week"),
    "active_actions_prior_28d": ("little earlier activity", "active in prior weeks"),
    "sessions_28d": ("few sessions", "many sessions"),
    "events_28d": ("few events", "many events"),
    "active_days_28d": ("few active days", "many active days"),
    "purchases_90d": ("rarely buys", "frequent buyer"),
    "revenue_90d": ("low spend", "high spend"),
    "tenure_days": ("new", "long-standing"),
    "activity_trend": ("slowing down", "speeding up"),
    "customer_value": ("low value", "high value"),
}

CLUSTERS_TABLE = BEHAVIOUR_CLUSTERS.name


@dataclass(frozen=True)
class ClusterConfig:
    k_min: int = 3
    k_max: int = 8
    seed: int = 0
    n_init: int = 3
    silhouette_sample: int = 5_000
    max_fit_rows: int = 50_000
    max_traits: int = 2
    trait_min_z: float = 0.25

    def __post_init__(self) -> None:
        if not 2 <= self.k_min <= self.k_max:
            raise ValueError(f"need 2 <= k_min <= k_max, got {self.k_min}..{self.k_max}")


@dataclass
class ClusterResult:
    """Assignments plus everything needed to explain them."""

    assignments: pd.DataFrame  # customer_id, cluster_id, cluster_label
    k: int
    silhouette_by_k: dict[int, float]
    profile: pd.DataFrame  # one row per cluster: size, share, label, mean_<f> and z_<f> per feature
    features: tuple[str, ...]
    centroids: np.ndarray = field(repr=False)  # in standardised units, canonical order

    @property
    def labels(self) -> dict[int, str]:
        return dict(zip(self.profile["cluster_id"], self.profile["cluster_label"], strict=True))


@dataclass(frozen=True)
class ClusterModel:
    """A fitted clustering: enough to assign any customer later, as plain numbers (stored as JSON).

    `mean` and `scale` standardise the transformed features as on the day of the fit;
    `centroids` are in those standardised units, in canonical order (row i is cluster i).
    """

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    centroids: tuple[tuple[float, ...], ...]
    labels: tuple[str, ...]
    silhouette_by_k: dict[int, float]
    fitted_on: str  # the run date whose customers it was fitted on
    fitted_customers: int
    config: dict[str, Any]
    features_contract: dict[str, str] = field(default_factory=dict)

    @property
    def k(self) -> int:
        return len(self.centroids)

    @property
    def version(self) -> str:
        """A digest of the whole model: the same fit gives the same version."""
        payload = json.dumps(self.to_dict(), sort_keys=True)
        return "clusters-" + hashlib.sha256(payload.encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["silhouette_by_k"] = {str(k): v for k, v in self.silhouette_by_k.items()}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClusterModel:
        return cls(
            features=tuple(data["features"]),
            mean=tuple(data["mean"]),
            scale=tuple(data["scale"]),
            centroids=tuple(tuple(c) for c in data["centroids"]),
            labels=tuple(data["labels"]),
            silhouette_by_k={int(k): float(v) for k, v in data["silhouette_by_k"].items()},
            fitted_on=data["fitted_on"],
            fitted_customers=int(data["fitted_customers"]),
            config=dict(data["config"]),
            features_contract=dict(data.get("features_contract") or {}),
        )


def transform(values: np.ndarray) -> np.ndarray:
    """Signed log1p: tames heavy tails and keeps negative values (e.g. activity_trend) meaningful."""
    return np.sign(values) * np.log1p(np.abs(values))


def _matrix(frame: pd.DataFrame, features: tuple[str, ...]) -> np.ndarray:
    missing = [c for c in features if c not in frame.columns]
    if missing:
        raise KeyError(f"cluster features missing from the frame: {missing}")
    values = frame[list(features)].apply(pd.to_numeric, errors="coerce").to_numpy(dtype="float64")
    return transform(np.nan_to_num(values, nan=0.0))


def _phrase(feature: str, *, high: bool) -> str:
    if feature in TRAIT_PHRASES:
        return TRAIT_PHRASES[feature][int(high)]
    return f"{'high' if high else 'low'} {TRAIT_NAMES.get(feature, feature)}"


def _describe(z: np.ndarray, features: tuple[str, ...], config: ClusterConfig) -> str:
    order = np.lexsort((np.arange(len(z)), -np.abs(z)))  # |z| descending, ties by feature order
    traits = [
        _phrase(features[i], high=z[i] > 0)
        for i in order[: config.max_traits]
        if abs(z[i]) >= config.trait_min_z
    ]
    return ", ".join(traits) if traits else "typical"


def fit_clusters(
    frame: pd.DataFrame,
    config: ClusterConfig | None = None,
    features: tuple[str, ...] = BEHAVIOUR_FEATURES,
    *,
    fitted_on: date | None = None,
) -> ClusterModel:
    """Learn the clusters of the customers of `frame` (a `customer_id` column plus `features`)."""
    config = config or ClusterConfig()
    frame = frame.sort_values("customer_id", kind="stable", ignore_index=True)
    n = len(frame)
    if n < config.k_min + 1:
        raise ValueError(f"{n} customers are too few to form {config.k_min} clusters")
    raw = frame[list(features)].apply(pd.to_numeric, errors="coerce").fillna(0.0)
    scaler = StandardScaler().fit(_matrix(frame, features))
    x = scaler.transform(_matrix(frame, features))

    rng = np.random.default_rng(config.seed)
    fit_idx = np.sort(rng.choice(n, size=min(n, config.max_fit_rows), replace=False))
    sil_idx = np.sort(rng.choice(n, size=min(n, config.silhouette_sample), replace=False))
    x_fit, x_sil = x[fit_idx], x[sil_idx]

    silhouettes: dict[int, float] = {}
    fitted: dict[int, KMeans] = {}
    n_distinct = min(len(np.unique(x_fit.round(9), axis=0)), len(np.unique(x_sil.round(9), axis=0)))
    for k in range(config.k_min, min(config.k_max, n - 1) + 1):
        if n_distinct <= k:  # fewer distinct customers than clusters: nothing to separate
            break
        model = KMeans(n_clusters=k, n_init=config.n_init, random_state=config.seed).fit(x_fit)
        labels = model.predict(x_sil)
        if len(np.unique(labels)) < 2:
            continue
        silhouettes[k] = float(silhouette_score(x_sil, labels, random_state=config.seed))
        fitted[k] = model
    if not silhouettes:
        raise ValueError("the behaviour features do not vary enough to form clusters")
    best_k = max(silhouettes, key=lambda k: (round(silhouettes[k], 6), -k))  # ties: fewer clusters
    model = fitted[best_k]
    raw_ids = model.predict(x)

    # Canonical numbering: largest cluster first, ties broken by the centroid's coordinates.
    sizes = np.bincount(raw_ids, minlength=best_k)
    centres = model.cluster_centers_
    order = sorted(range(best_k), key=lambda c: (-sizes[c], *np.round(centres[c], 6)))
    remap = np.empty(best_k, dtype=np.int64)
    remap[order] = np.arange(best_k)
    profile = _profile(raw, x, remap[raw_ids], best_k, features, config, labels=None)
    return ClusterModel(
        features=tuple(features),
        mean=tuple(float(v) for v in scaler.mean_),
        scale=tuple(float(v) for v in scaler.scale_),
        centroids=tuple(tuple(float(v) for v in centres[c]) for c in order),
        labels=tuple(profile["cluster_label"]),
        silhouette_by_k=silhouettes,
        fitted_on=fitted_on.isoformat() if fitted_on else "",
        fitted_customers=n,
        config=asdict(config),
    )


def assign_clusters(model: ClusterModel, frame: pd.DataFrame) -> ClusterResult:
    """Put every customer of `frame` in the nearest of `model`'s clusters, with today's profile."""
    frame = frame.sort_values("customer_id", kind="stable", ignore_index=True)
    raw = frame[list(model.features)].apply(pd.to_numeric, errors="coerce").fillna(0.0)
    x = (_matrix(frame, model.features) - np.asarray(model.mean)) / np.asarray(model.scale)
    centroids = np.asarray(model.centroids)
    # One column per cluster (a customers x clusters x features array would not fit at a million).
    distances = np.column_stack([((x - centre) ** 2).sum(axis=1) for centre in centroids])
    cluster_id = distances.argmin(axis=1).astype("int64")  # ties: the lower id
    config = ClusterConfig(**model.config)
    profile = _profile(raw, x, cluster_id, model.k, model.features, config, labels=model.labels)
    labels = dict(enumerate(model.labels))
    assignments = pd.DataFrame(
        {
            "customer_id": frame["customer_id"].astype(object).to_numpy(),
            "cluster_id": cluster_id,
            "cluster_label": pd.Series(cluster_id).map(labels).to_numpy(dtype=object),
        }
    )
    return ClusterResult(
        assignments=assignments,
        k=model.k,
        silhouette_by_k=dict(model.silhouette_by_k),
        profile=profile,
        features=model.features,
        centroids=centroids,
    )


def cluster_behaviour(
    frame: pd.DataFrame,
    config: ClusterConfig | None = None,
    features: tuple[str, ...] = BEHAVIOUR_FEATURES,
) -> ClusterResult:
    """Fit on the customers of `frame` and assign them: `assign_clusters(fit_clusters(...), frame)`."""
    return assign_clusters(fit_clusters(frame, config, features), frame)


def _profile(
    raw: pd.DataFrame,
    x: np.ndarray,
    cluster_id: np.ndarray,
    k: int,
    features: tuple[str, ...],
    config: ClusterConfig,
    labels: tuple[str, ...] | None,
) -> pd.DataFrame:
    """Size, share and per-feature mean and z of each cluster; labels named from z unless given."""
    rows = []
    used: dict[str, int] = {}
    for c in range(k):
        members = cluster_id == c
        # x is standardised: the mean is the z of the cluster (NaN for a cluster empty today)
        z = x[members].mean(axis=0) if members.any() else np.full(len(features), np.nan)
        if labels is not None:
            label = labels[c]
        else:
            label = _describe(z, features, config)
            used[label] = used.get(label, 0) + 1
            if used[label] > 1:  # two clusters with the same top traits stay distinguishable
                label = f"{label} ({used[label]})"
        row: dict[str, object] = {
            "cluster_id": c,
            "cluster_label": label,
            "size": int(members.sum()),
            "share": float(members.mean()) if len(members) else 0.0,
        }
        means = raw[members].mean()
        for i, name in enumerate(features):
            row[f"mean_{name}"] = float(means[name])
            row[f"z_{name}"] = float(z[i])
        rows.append(row)
    return pd.DataFrame(rows)


def profile_markdown(result: ClusterResult) -> str:
    """The profile table as Markdown: one row per cluster, mean of each feature (z in brackets)."""
    header = ["cluster", "label", "customers", "share", *[TRAIT_NAMES.get(f, f) for f in result.features]]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in result.profile.itertuples(index=False):
        row = row._asdict()
        cells = [
            str(row["cluster_id"]),
            str(row["cluster_label"]),
            f"{row['size']:,}",
            f"{row['share']:.1%}",
            *[f"{row[f'mean_{f}']:.1f} ({row[f'z_{f}']:+.2f})" for f in result.features],
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_clusters(con: duckdb.DuckDBPyConnection, assignments: pd.DataFrame, run_date: date) -> int:
    """Replace `run_date`'s rows of scoring.behaviour_clusters atomically; returns rows written."""
    return replace_run_date(
        con, CLUSTERS_TABLE, assignments, ["customer_id", "cluster_id", "cluster_label"], run_date
    )


MODEL_FILE = "behaviour_clusters.json"


def save_cluster_model(directory: Path | str, model: ClusterModel) -> Path:
    """Write the model as `<dir>/behaviour_clusters.json`, atomically (a reader sees old or new)."""
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".{MODEL_FILE}.tmp"
    tmp.write_text(json.dumps({"version": model.version, **model.to_dict()}, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, root / MODEL_FILE)
    return root / MODEL_FILE


def load_cluster_model(directory: Path | str) -> ClusterModel | None:
    """The saved model, or None before the first fit."""
    path = Path(directory) / MODEL_FILE
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    data.pop("version", None)
    return ClusterModel.from_dict(data)
