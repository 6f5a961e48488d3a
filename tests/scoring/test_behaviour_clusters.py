"""Behaviour clusters: k by silhouette, canonical numbering, readable labels, stable for a seed."""

from __future__ import annotations

from datetime import date

import duckdb
import numpy as np
import pandas as pd
import pytest

from reengage.learning.clusters import (
    BEHAVIOUR_FEATURES,
    CLUSTERS_TABLE,
    ClusterConfig,
    cluster_behaviour,
    profile_markdown,
    write_clusters,
)

# Three behaviours: regulars (recent, busy), buyers (many purchases), gone (long silent).
_GROUPS = {
    "regular": dict(days_since_last_active=1, active_actions_7d=12, sessions_28d=20, events_28d=120),
    "buyer": dict(days_since_last_active=3, active_actions_7d=4, purchases_90d=9, revenue_90d=600),
    "gone": dict(days_since_last_active=60, tenure_days=400),
}


def behaviour_frame(per_group: int = 150, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for g, (name, centre) in enumerate(_GROUPS.items()):
        for i in range(per_group):
            row = {"customer_id": f"{name}-{i:04d}", "group": name}
            for feature in BEHAVIOUR_FEATURES:
                base = centre.get(feature, 2.0 if feature != "tenure_days" else 120.0)
                row[feature] = max(0.0, base * rng.lognormal(0.0, 0.15))
            rows.append(row)
        del g
    return pd.DataFrame(rows)


CONFIG = ClusterConfig(k_min=2, k_max=6, seed=11, n_init=2)


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return behaviour_frame()


@pytest.fixture(scope="module")
def result(frame: pd.DataFrame):  # noqa: ANN201
    return cluster_behaviour(frame, CONFIG)


def test_silhouette_picks_the_number_of_real_groups(result, frame: pd.DataFrame) -> None:  # noqa: ANN001
    assert result.k == 3
    assert set(result.silhouette_by_k) == {2, 3, 4, 5, 6}
    assert result.silhouette_by_k[3] == max(result.silhouette_by_k.values())
    merged = result.assignments.merge(frame[["customer_id", "group"]], on="customer_id")
    # every true group lands in exactly one cluster
    assert merged.groupby("group")["cluster_id"].nunique().max() == 1


def test_labels_name_the_distinguishing_traits(result, frame: pd.DataFrame) -> None:  # noqa: ANN001
    merged = result.assignments.merge(frame[["customer_id", "group"]], on="customer_id")
    label_of = merged.groupby("group")["cluster_label"].first().to_dict()
    assert "long inactive" in label_of["gone"]
    assert "frequent buyer" in label_of["buyer"] or "high spend" in label_of["buyer"]
    assert len(set(label_of.values())) == 3
    profile = result.profile
    assert list(profile["cluster_id"]) == [0, 1, 2]
    assert profile["size"].sum() == len(frame)
    assert profile["size"].is_monotonic_decreasing
    gone = profile.set_index("cluster_label").loc[label_of["gone"]]
    assert gone["mean_days_since_last_active"] > 40
    assert gone["z_days_since_last_active"] > 1
    table = profile_markdown(result)
    assert table.count("\n") == 1 + 3  # header, rule, one row per cluster
    assert "days since last active" in table.splitlines()[0]


def test_same_seed_same_ids_and_labels_whatever_the_row_order(result, frame: pd.DataFrame) -> None:  # noqa: ANN001
    shuffled = frame.sample(frac=1.0, random_state=5).reset_index(drop=True)
    again = cluster_behaviour(shuffled, CONFIG)
    pd.testing.assert_frame_equal(again.assignments, result.assignments)
    assert again.labels == result.labels
    assert again.silhouette_by_k == result.silhouette_by_k


def test_sampling_for_fit_and_silhouette_keeps_every_customer(frame: pd.DataFrame) -> None:
    config = ClusterConfig(k_min=2, k_max=4, seed=1, n_init=2, silhouette_sample=100, max_fit_rows=120)
    sampled = cluster_behaviour(frame, config)
    assert len(sampled.assignments) == len(frame)
    assert sampled.assignments["customer_id"].is_unique
    assert sampled.k == 3
    assert cluster_behaviour(frame, config).labels == sampled.labels


def test_too_few_or_identical_customers_are_refused(frame: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="too few"):
        cluster_behaviour(frame.head(2), CONFIG)
    flat = frame.copy()
    flat[list(BEHAVIOUR_FEATURES)] = 1.0
    with pytest.raises(ValueError, match="do not vary"):
        cluster_behaviour(flat, CONFIG)


def test_write_replaces_only_the_run_date(result, tmp_path) -> None:  # noqa: ANN001
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        first, second = date(2024, 5, 1), date(2024, 5, 2)
        write_clusters(con, result.assignments, first)
        write_clusters(con, result.assignments, second)
        write_clusters(con, result.assignments.head(10), second)
        counts = con.execute(
            f"select run_date, count(*) from {CLUSTERS_TABLE} group by run_date order by run_date"
        ).fetchall()
        assert counts == [(first, len(result.assignments)), (second, 10)]
        columns = [r[0] for r in con.execute(f"describe {CLUSTERS_TABLE}").fetchall()]
        assert columns == ["customer_id", "run_date", "cluster_id", "cluster_label"]
