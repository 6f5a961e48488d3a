"""What a candidate targeting policy would have achieved, judged from logged decisions before it goes live.

Every logged decision (a user and a campaign on a day) carries the probability ``e`` with which it
was treated, known exactly because a hash drew it. A candidate policy treats the same row with
probability ``p`` (0 or 1 for a deterministic one). Its value is the mean outcome the log's rows
would have had under it, ``V = mean(p * Y(1) + (1 - p) * Y(0))``, and its incremental value is
``V`` minus the value of sending nobody, ``mean(p * (Y(1) - Y(0)))``: what the product reports, as
a total over the log's rows and per 1,000 decisions. Three estimates, each from per-row scores:

The comparison arm ("not treated") is, by default, every row not treated, with chance ``1 - e``.
Where a row not sent today may still be sent later inside its window (a targeting that did not
draw it today), only the rows held back for good are the comparison: ``c = 1`` with chance
``e0`` (``DecisionLog.control``, ``control_propensity``); the other rows count through the outcome
models alone (``doubly_robust`` says why). Below, ``1 - t`` reads ``c`` and ``1 - e`` reads ``e0``.

- IPS: ``w = p * t / e + (1 - p) * (1 - t) / (1 - e)`` reweights the rows whose logged decision
  the policy agrees with; ``V = mean(w * y)``. Unbiased whenever ``e`` is exact, but noisy when
  weights are large.
- SNIPS: ``sum(w * y) / sum(w)``, self-normalised: a little bias, often much less variance.
- DR: ``mean(p * gamma1 + (1 - p) * gamma0)`` with the arm scores of ``doubly_robust.arm_scores``
  (the one formula this estimate shares with the learner). Unbiased when ``e`` is exact, whatever
  the outcome models; the better the models, the smaller its variance.

The incremental estimates use the same scores: ``mean(p * w1 * y - p * w0 * y)`` for IPS, the
difference of the policy's and of nobody's SNIPS, and ``mean(p * (gamma1 - gamma0))`` for DR, so
sending nobody is worth exactly 0 by every estimate.

Intervals: by default the normal (CLT) interval of the per-row scores (linearised for the ratios
of SNIPS), summed per user when a cluster key is given, since one user's daily rows are not
independent; or a seeded bootstrap that resamples users (or rows). Either is an interval for the
value per decision, scaled to the totals.

Support: a row logged with ``e = 0`` (the log could never treat it) or ``e = 1`` (never hold it)
shows one outcome only. Where the policy needs the other, IPS and SNIPS cannot see it (they count
it as nothing) and the DR estimate falls back to the outcome model's prediction; the result counts
those rows and says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats

from reengage.learning.uplift.doubly_robust import arm_scores

ESTIMATORS = ("ips", "snips", "dr")

# Below these, the normal interval is an optimistic guess; the result says so.
FEW_CLUSTERS = 30
FEW_EFFECTIVE_ROWS = 100


class PolicyLogError(ValueError):
    """A log or a candidate policy the estimates cannot use; the message names the column and rows."""


@dataclass(frozen=True)
class IntervalConfig:
    """How intervals are computed: the normal (CLT) interval, or a bootstrap of `draws` resamples
    drawn with `seed`, at `level` (two-sided)."""

    method: Literal["clt", "bootstrap"] = "clt"
    level: float = 0.95
    draws: int = 1000
    seed: int = 0

    def __post_init__(self) -> None:
        if self.method not in ("clt", "bootstrap"):
            raise PolicyLogError(f"interval method must be 'clt' or 'bootstrap', not {self.method!r}")
        if not 0 < self.level < 1:
            raise PolicyLogError(f"interval level must be between 0 and 1, not {self.level}")
        if self.draws < 2:
            raise PolicyLogError(f"a bootstrap needs at least 2 resamples, not {self.draws}")


def _rows(mask: np.ndarray) -> str:
    """Rows counted from 1, the first few of them: enough to find them in the table."""
    rows = np.flatnonzero(mask) + 1
    shown = ", ".join(str(row) for row in rows[:5])
    more = f" and {len(rows) - 5} more" if len(rows) > 5 else ""
    return f"row{'s' if len(rows) > 1 else ''} {shown}{more}"


def _numbers(values: ArrayLike, name: str) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        array = pd.to_numeric(pd.Series(np.asarray(values, dtype=object)), errors="coerce").to_numpy(float)
    if array.ndim != 1:
        raise PolicyLogError(f"{name}: expected one value per row, got an array of shape {array.shape}")
    missing = ~np.isfinite(array)
    if missing.any():
        raise PolicyLogError(f"{name}: {_rows(missing)} not a finite number")
    return array


@dataclass(frozen=True, eq=False)  # arrays: equality of two logs has no single answer
class DecisionLog:
    """Logged decisions: treated 0/1, outcome, the propensity the row was treated with, and optionally
    outcome-model predictions (mu0, mu1), a cluster key (the user), kept only as codes, and the
    comparison arm (control 0/1 and its chance; default: every row not treated, 1 - propensity).

    ``names`` says what each field is called in the caller's table, for error messages.
    """

    treated: np.ndarray
    outcome: np.ndarray
    propensity: np.ndarray
    mu0: np.ndarray | None = None
    mu1: np.ndarray | None = None
    cluster: np.ndarray | None = None
    control: np.ndarray | None = None
    control_propensity: np.ndarray | None = None
    names: Mapping[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        def name(key: str) -> str:
            given = self.names.get(key)
            return f"{key} (column '{given}')" if given and given != key else key

        set_ = object.__setattr__
        numeric = ("treated", "outcome", "propensity", "mu0", "mu1", "control", "control_propensity")
        for key in numeric:
            if getattr(self, key) is not None:
                set_(self, key, _numbers(getattr(self, key), name(key)))
        if (self.mu0 is None) != (self.mu1 is None):
            raise PolicyLogError("give both outcome models (mu0 and mu1) or neither")
        if (self.control is None) != (self.control_propensity is None):
            raise PolicyLogError("give both control and control_propensity, or neither")
        lengths = {
            key: len(getattr(self, key)) for key in (*numeric, "cluster") if getattr(self, key) is not None
        }
        if len(set(lengths.values())) != 1:
            raise PolicyLogError(f"columns differ in length: {lengths}")
        t, e = self.treated, self.propensity
        if len(t) < 2:
            raise PolicyLogError("a log needs at least two rows")
        if not np.isin(t, (0.0, 1.0)).all():
            raise PolicyLogError(f"{name('treated')}: {_rows(~np.isin(t, (0.0, 1.0)))} not 0 or 1")
        if ((e < 0) | (e > 1)).any():
            raise PolicyLogError(
                f"{name('propensity')}: {_rows((e < 0) | (e > 1))} not a probability in [0, 1]"
            )
        # A treated row the log could never treat (or the reverse) means the log is wrong, not the user.
        impossible = ((e == 0) & (t == 1)) | ((e == 1) & (t == 0))
        if impossible.any():
            raise PolicyLogError(
                f"{name('propensity')}: {_rows(impossible)} got a treatment their propensity says was "
                "impossible (treated with propensity 0 or held with propensity 1)"
            )
        if self.control is None:
            set_(self, "control", 1.0 - t)
            set_(self, "control_propensity", 1.0 - e)
        else:
            self._check_control(name)
        if self.cluster is not None:
            codes, _ = pd.factorize(pd.Series(np.asarray(self.cluster, dtype=object)), use_na_sentinel=True)
            if (codes < 0).any():
                raise PolicyLogError(f"{name('cluster')}: {_rows(codes < 0)} have no cluster key")
            set_(self, "cluster", codes.astype(np.int64))  # codes only: no user id travels further

    def _check_control(self, name) -> None:  # noqa: ANN001
        t, e, c, e0 = self.treated, self.propensity, self.control, self.control_propensity
        if not np.isin(c, (0.0, 1.0)).all():
            raise PolicyLogError(f"{name('control')}: {_rows(~np.isin(c, (0.0, 1.0)))} not 0 or 1")
        if ((t == 1) & (c == 1)).any():
            raise PolicyLogError(
                f"{name('control')}: {_rows((t == 1) & (c == 1))} treated and control at once"
            )
        outside = (e0 < 0) | (e + e0 > 1 + 1e-9)
        if outside.any():
            raise PolicyLogError(
                f"{name('control_propensity')}: {_rows(outside)} not a probability in [0, 1 - propensity]"
            )
        if ((c == 1) & (e0 == 0)).any():
            raise PolicyLogError(
                f"{name('control_propensity')}: {_rows((c == 1) & (e0 == 0))} held back for good with "
                "control propensity 0, which says that was impossible"
            )

    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        *,
        treatment: str,
        outcome: str,
        propensity: str,
        mu0: str | None = None,
        mu1: str | None = None,
        cluster: str | None = None,
        control: str | None = None,
        control_propensity: str | None = None,
    ) -> DecisionLog:
        columns = {"treated": treatment, "outcome": outcome, "propensity": propensity}
        optional = (
            ("mu0", mu0),
            ("mu1", mu1),
            ("cluster", cluster),
            ("control", control),
            ("control_propensity", control_propensity),
        )
        columns |= {key: col for key, col in optional if col}
        for key, column in columns.items():
            if column not in frame.columns:
                raise PolicyLogError(
                    f"no column '{column}' (the {key}); columns are: {', '.join(map(str, frame))}"
                )
        return cls(**{key: frame[column].to_numpy() for key, column in columns.items()}, names=columns)

    def with_outcome_models(self, mu0: ArrayLike, mu1: ArrayLike) -> DecisionLog:
        """The same log with outcome-model predictions, e.g. from cross_fitted_outcome_models."""
        return replace(self, mu0=mu0, mu1=mu1)

    @property
    def rows(self) -> int:
        return len(self.treated)

    @property
    def has_outcome_model(self) -> bool:
        return self.mu0 is not None


@dataclass(frozen=True)
class Estimate:
    """An estimate per decision, its standard error and its interval."""

    mean: float
    se: float
    low: float
    high: float

    def scaled(self, factor: float) -> Estimate:
        return Estimate(self.mean * factor, self.se * factor, self.low * factor, self.high * factor)


@dataclass(frozen=True)
class PolicyValue:
    """One candidate policy judged on one log: value and incremental value by each estimator.

    An estimator's entry is None when the log cannot give it: DR without an outcome model, SNIPS
    when no logged row carries weight under the policy (or, incremental, none was held).
    """

    policy: str
    rows: int
    clusters: int
    clustered: bool
    treat_share: float
    value: Mapping[str, Estimate | None]
    incremental: Mapping[str, Estimate | None]
    off_support_rows: int
    off_support_rows_incremental: int
    dr_uses_outcome_model_off_support: bool
    effective_rows: float
    interval: Literal["clt", "bootstrap"]
    level: float
    caveats: tuple[str, ...]

    @property
    def off_support_share(self) -> float:
        return self.off_support_rows / self.rows

    @property
    def off_support_share_incremental(self) -> float:
        return self.off_support_rows_incremental / self.rows

    def incremental_total(self, estimator: str) -> Estimate | None:
        """Incremental outcomes (e.g. conversions) over all the log's rows."""
        estimate = self.incremental[estimator]
        return None if estimate is None else estimate.scaled(self.rows)

    def incremental_per_1000(self, estimator: str) -> Estimate | None:
        estimate = self.incremental[estimator]
        return None if estimate is None else estimate.scaled(1000)

    def to_dict(self) -> dict[str, Any]:
        """Numbers and words only (no cluster key or row of the log), for reports and metadata."""

        def figures(estimate: Estimate | None) -> dict[str, float] | None:
            return None if estimate is None else {k: float(v) for k, v in vars(estimate).items()}

        return {
            "policy": self.policy,
            "rows": self.rows,
            "clusters": self.clusters,
            "clustered": self.clustered,
            "treat_share": self.treat_share,
            "interval": self.interval,
            "level": self.level,
            "value": {name: figures(self.value[name]) for name in ESTIMATORS},
            "incremental_per_decision": {name: figures(self.incremental[name]) for name in ESTIMATORS},
            "incremental_total": {name: figures(self.incremental_total(name)) for name in ESTIMATORS},
            "incremental_per_1000": {name: figures(self.incremental_per_1000(name)) for name in ESTIMATORS},
            "off_support_rows": self.off_support_rows,
            "off_support_share": self.off_support_share,
            "off_support_rows_incremental": self.off_support_rows_incremental,
            "off_support_share_incremental": self.off_support_share_incremental,
            "dr_uses_outcome_model_off_support": self.dr_uses_outcome_model_off_support,
            "effective_rows": self.effective_rows,
            "caveats": list(self.caveats),
        }


# --- per-row terms -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Contrast:
    """sum(a) / sum(b) - sum(c) / sum(d) over rows: the shape of every estimate here (a plain mean
    has b = 1, c = 0, d = 1), so one interval code serves them all."""

    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    d: np.ndarray

    @classmethod
    def mean_of(cls, scores: np.ndarray) -> _Contrast:
        ones, zeros = np.ones_like(scores), np.zeros_like(scores)
        return cls(scores, ones, zeros, ones)

    def columns(self) -> np.ndarray:
        return np.column_stack([self.a, self.b, self.c, self.d])


def _ratio_difference(sums: np.ndarray) -> np.ndarray:
    """The contrast from its four sums (last axis); NaN where a denominator is 0."""
    a, b, c, d = np.moveaxis(sums, -1, 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((b > 0) & (d > 0), a / np.where(b > 0, b, 1) - c / np.where(d > 0, d, 1), np.nan)


@dataclass(frozen=True)
class _LoggedArms:
    """What the log says about each arm of each row, computed once for every candidate policy."""

    w1: np.ndarray  # t / e, 0 where e = 0
    w0: np.ndarray  # c / e0, 0 where e0 = 0
    gamma1: np.ndarray | None
    gamma0: np.ndarray | None

    @classmethod
    def of(cls, log: DecisionLog) -> _LoggedArms:
        t, y, e, c, e0 = log.treated, log.outcome, log.propensity, log.control, log.control_propensity
        w1 = np.divide(t, e, out=np.zeros_like(e), where=e > 0)
        w0 = np.divide(c, e0, out=np.zeros_like(e0), where=e0 > 0)
        if log.mu0 is None or log.mu1 is None:
            return cls(w1, w0, None, None)
        mu0, mu1 = log.mu0, log.mu1
        inside = (e > 0) & (e0 > 0)
        gamma0, gamma1 = mu0.copy(), mu1.copy()
        gamma0[inside], gamma1[inside] = arm_scores(
            t[inside], y[inside], e[inside], mu0[inside], mu1[inside], c[inside], e0[inside]
        )
        # An arm the log could never give a row (arm_scores refuses it) has only the outcome model;
        # the arm it could, the same formula (at e = 1 a treated row scores its outcome).
        certain = e0 == 0
        gamma1[certain] = mu1[certain] + w1[certain] * (y[certain] - mu1[certain])
        never = e == 0
        gamma0[never] = mu0[never] + w0[never] * (y[never] - mu0[never])
        return cls(w1, w0, gamma1, gamma0)


def _contrasts(log: DecisionLog, arms: _LoggedArms, p: np.ndarray) -> dict[tuple[str, str], _Contrast | None]:
    y = log.outcome
    w = p * arms.w1 + (1 - p) * arms.w0
    found: dict[tuple[str, str], _Contrast | None] = {
        ("value", "ips"): _Contrast.mean_of(w * y),
        ("value", "snips"): _Contrast(w * y, w, np.zeros_like(w), np.ones_like(w)),
        ("incremental", "ips"): _Contrast.mean_of(p * (arms.w1 - arms.w0) * y),
        ("incremental", "snips"): _Contrast(w * y, w, arms.w0 * y, arms.w0),
        ("value", "dr"): None,
        ("incremental", "dr"): None,
    }
    if arms.gamma1 is not None and arms.gamma0 is not None:
        found["value", "dr"] = _Contrast.mean_of(p * arms.gamma1 + (1 - p) * arms.gamma0)
        found["incremental", "dr"] = _Contrast.mean_of(p * (arms.gamma1 - arms.gamma0))
    return found


# --- intervals -----------------------------------------------------------------------------------


def _clt(contrast: _Contrast, clusters: np.ndarray, n_clusters: int, z: float) -> Estimate | None:
    """Normal interval from the linearised per-row scores, summed per cluster (a sandwich estimate)."""
    n = len(contrast.a)
    big_a, big_b, big_c, big_d = contrast.columns().sum(axis=0)
    if big_b <= 0 or big_d <= 0:
        return None
    first, second = big_a / big_b, big_c / big_d
    influence = (contrast.a - first * contrast.b) / (big_b / n) - (contrast.c - second * contrast.d) / (
        big_d / n
    )
    per_cluster = np.bincount(clusters, weights=influence, minlength=n_clusters)
    se = float(np.sqrt(n_clusters / (n_clusters - 1) * np.sum(per_cluster**2)) / n)
    mean = float(first - second)
    return Estimate(mean, se, mean - z * se, mean + z * se)


def _bootstrap(
    contrasts: list[_Contrast], clusters: np.ndarray, n_clusters: int, config: IntervalConfig
) -> list[Estimate | None]:
    """Percentile intervals from resampling whole clusters (rows when unclustered), the same
    resamples for every contrast so that estimates compared side by side share their luck."""
    per_row = np.hstack([contrast.columns() for contrast in contrasts])
    per_cluster = np.column_stack(
        [np.bincount(clusters, weights=column, minlength=n_clusters) for column in per_row.T]
    )
    rng = np.random.default_rng(config.seed)
    draws = config.draws
    replicates = []
    uniform = np.full(n_clusters, 1 / n_clusters)
    # A resample is a vector of counts per cluster; a chunk of them holds at most ~2M counts in memory.
    chunk = max(1, min(64, 2_000_000 // n_clusters))
    for start in range(0, draws, chunk):
        counts = rng.multinomial(n_clusters, uniform, size=min(chunk, draws - start))
        replicates.append(counts @ per_cluster)
    sums = np.vstack(replicates).reshape(draws, len(contrasts), 4)
    resampled = _ratio_difference(sums)
    point = _ratio_difference(per_cluster.sum(axis=0).reshape(len(contrasts), 4))
    tail = (1 - config.level) / 2 * 100
    found: list[Estimate | None] = []
    for k in range(len(contrasts)):
        defined = resampled[:, k][np.isfinite(resampled[:, k])]
        if not np.isfinite(point[k]) or len(defined) < 2:
            found.append(None)
            continue
        low, high = np.percentile(defined, [tail, 100 - tail])
        found.append(Estimate(float(point[k]), float(defined.std(ddof=1)), float(low), float(high)))
    return found


# --- the estimates -------------------------------------------------------------------------------


def _probabilities(values: ArrayLike, rows: int, policy: str) -> np.ndarray:
    p = _numbers(values, f"policy '{policy}'")
    if len(p) != rows:
        raise PolicyLogError(f"policy '{policy}': {len(p)} probabilities for a log of {rows} rows")
    outside = (p < 0) | (p > 1)
    if outside.any():
        raise PolicyLogError(f"policy '{policy}': {_rows(outside)} not a probability of treating in [0, 1]")
    return p


def _effective_rows(weights: np.ndarray) -> float:
    """Kish's effective sample size (sum w)^2 / sum w^2, on weights scaled by the largest so that
    tiny ones cannot underflow when squared."""
    if weights.max() <= 0:
        return 0.0
    scaled = weights / weights.max()
    return float(scaled.sum() ** 2 / np.sum(scaled**2))


def _caveats(
    log: DecisionLog, off_support: int, off_support_incremental: int, n_clusters: int, effective_rows: float
) -> tuple[str, ...]:
    n = log.rows
    found = []
    if log.has_outcome_model:
        judged_by = (
            "the doubly robust estimate uses the outcome model's prediction there, "
            "so it is only as right as that model"
        )
    else:
        judged_by = "with no outcome model, nothing in this log judges them"
    if off_support or off_support_incremental:
        found.append(
            f"off support: {off_support} of {n} decisions ({off_support / n:.1%}) for the value and "
            f"{off_support_incremental} ({off_support_incremental / n:.1%}) for the incremental value were "
            "treated or held for certain in the log (propensity 1 or 0), so it never saw the outcome this "
            "policy needs there; IPS counts that outcome as 0 and SNIPS leaves those decisions out, so "
            f"both are biased; {judged_by}"
        )
    if not log.has_outcome_model:
        found.append(
            "no outcome model given: the doubly robust estimate is left out (give mu0 and mu1, or features)"
        )
    if n_clusters < FEW_CLUSTERS:
        found.append(f"only {n_clusters} independent units: the interval is a rough guide")
    if effective_rows < FEW_EFFECTIVE_ROWS:
        found.append(
            f"the policy's weights rest on about {effective_rows:.0f} effective decisions: IPS is unstable"
        )
    return tuple(found)


def estimate_policies(
    log: DecisionLog,
    policies: Mapping[str, ArrayLike],
    *,
    intervals: IntervalConfig = IntervalConfig(),
) -> dict[str, PolicyValue]:
    """Each candidate (name -> per-row probability of treating) judged on the log."""
    if not policies:
        raise PolicyLogError("no candidate policy to judge")
    clustered = log.cluster is not None
    clusters = log.cluster if log.cluster is not None else np.arange(log.rows)
    n_clusters = int(clusters.max()) + 1
    if n_clusters < 2:
        raise PolicyLogError("the log has one cluster only: no interval can be computed")
    arms = _LoggedArms.of(log)
    z = float(stats.norm.ppf(0.5 + intervals.level / 2))
    e, e0 = log.propensity, log.control_propensity
    results = {}
    for name, values in policies.items():
        p = _probabilities(values, log.rows, name)
        keys_and_contrasts = _contrasts(log, arms, p)
        present = [(key, c) for key, c in keys_and_contrasts.items() if c is not None]
        if intervals.method == "clt":
            estimates = [_clt(c, clusters, n_clusters, z) for _, c in present]
        else:
            estimates = _bootstrap([c for _, c in present], clusters, n_clusters, intervals)
        found: dict[tuple[str, str], Estimate | None] = dict.fromkeys(keys_and_contrasts)
        found.update(zip([key for key, _ in present], estimates, strict=True))
        # The value needs the arm the policy picks; the increment needs both arms wherever it treats.
        off_support = int(np.sum(((p > 0) & (e == 0)) | ((p < 1) & (e0 == 0))))
        off_support_incremental = int(np.sum((p > 0) & ((e == 0) | (e0 == 0))))
        effective_rows = _effective_rows(p * arms.w1 + (1 - p) * arms.w0)
        results[name] = PolicyValue(
            policy=name,
            rows=log.rows,
            clusters=n_clusters,
            clustered=clustered,
            treat_share=float(p.mean()),
            value={est: found["value", est] for est in ESTIMATORS},
            incremental={est: found["incremental", est] for est in ESTIMATORS},
            off_support_rows=off_support,
            off_support_rows_incremental=off_support_incremental,
            dr_uses_outcome_model_off_support=log.has_outcome_model
            and off_support + off_support_incremental > 0,
            effective_rows=effective_rows,
            interval=intervals.method,
            level=intervals.level,
            caveats=_caveats(log, off_support, off_support_incremental, n_clusters, effective_rows),
        )
    return results


def estimate_policy_value(
    log: DecisionLog,
    policy: ArrayLike,
    *,
    name: str = "candidate",
    intervals: IntervalConfig = IntervalConfig(),
) -> PolicyValue:
    """One candidate policy (per-row probability of treating) judged on the log."""
    return estimate_policies(log, {name: policy}, intervals=intervals)[name]


TABLE_COLUMNS = (
    "policy",
    "estimator",
    "value",
    "value_low",
    "value_high",
    "incremental_per_1000",
    "incremental_per_1000_low",
    "incremental_per_1000_high",
    "incremental_total",
    "incremental_total_low",
    "incremental_total_high",
    "treat_share",
    "off_support_share",
    "off_support_share_incremental",
    "rows",
)


def comparison_table(results: Mapping[str, PolicyValue]) -> pd.DataFrame:
    """One row per policy and estimator, in TABLE_COLUMNS; NaN where an estimator has no answer."""
    nan = float("nan")
    records = []
    for result in results.values():
        for estimator in ESTIMATORS:
            value = result.value[estimator]
            per_1000 = result.incremental_per_1000(estimator)
            total = result.incremental_total(estimator)
            records.append(
                (result.policy, estimator)
                + ((value.mean, value.low, value.high) if value else (nan,) * 3)
                + ((per_1000.mean, per_1000.low, per_1000.high) if per_1000 else (nan,) * 3)
                + ((total.mean, total.low, total.high) if total else (nan,) * 3)
                + (result.treat_share, result.off_support_share, result.off_support_share_incremental)
                + (result.rows,)
            )
    return pd.DataFrame.from_records(records, columns=list(TABLE_COLUMNS))


def compare_policies(
    log: DecisionLog,
    policies: Mapping[str, ArrayLike],
    *,
    intervals: IntervalConfig = IntervalConfig(),
) -> pd.DataFrame:
    """Several candidates on one log, as the table a report prints (see comparison_table)."""
    return comparison_table(estimate_policies(log, policies, intervals=intervals))
