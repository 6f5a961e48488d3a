"""Train an uplift model on earlier decision days and judge it on the latest ones, of other users.

`train_and_evaluate(table, config)` takes one row per logged decision: the features the policy
saw, whether the user was treated, the outcome (the campaign's target event within its
attribution window, complete for every row) and the logged probability of treatment; optionally
which rows were held back for good and their probability (`UpliftConfig.control_column`), where
a row not sent today may be sent later inside its window (`doubly_robust` says why that matters).

Why it is shaped this way:

* Time-based validation, as for the churn model: the model learns from the earlier days and
  is judged on the latest ones, which it never sees. A random split would let a user's next
  decision leak into training and flatter every figure. `gap_days` leaves days out between the
  two, so that a user's conversion cannot be a training outcome and, a day later, part of an
  evaluation outcome's attribution window.
* Judged on other users too: with a `cluster_column` (the user), the evaluation rows are the
  latest days of a fixed share of users (`judging_user_share`, by a hash of campaign and user)
  and the model learns only from the other users. A user's holdout is kept for good and their
  habits persist, so a model that learned from a user's earlier days can "predict" that same
  user's later outcomes in the arm they are still in: on logs whose outcomes do not depend on
  the arm, a day-only split read a positive Qini coefficient on average and passed a 95%
  promotion gate in up to one fit in ten (reengage/learning/README.md gives the figures). The
  hash keeps each user on one side in every fit, so the current model and a candidate are
  compared on users neither learned from.
* Leakage guard: with a `feature_ts_column` (the latest event a row's features read, e.g.
  `max_event_ts_used`), a row whose features saw an event at or after its cut-off (the end of
  its decision day, UTC, as `reengage.learning.features.cutoff`) is refused. Evaluation days that overlap
  training days are refused whatever the column.
* The evaluated model is the saved model (no refit on the evaluation days), so the card's
  figures describe exactly the model that scores users.
* Rows are put in a canonical order (by content) before anything else, so the same rows in
  any order give the same model, the same figures and the same version.
* A table too small to judge is refused with a sentence saying which part is too small.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from reengage.learning.churn import TrainingError, fingerprint, library_versions
from reengage.learning.features import LeakageError, cutoff
from reengage.learning.uplift.evaluation import UpliftEvaluation, evaluate_uplift, row_effect_scores
from reengage.learning.uplift.learner import (
    LEARNER_CHOICE,
    LEARNER_SPEC,
    LearnerConfig,
    UpliftInputError,
    UpliftLearner,
    fit_uplift,
    require_columns,
)
from reengage.learning.uplift.outcome_models import cross_fitted_outcome_models

DEFAULT_HOLDOUT_SHARE = 0.25
DEFAULT_JUDGING_USER_SHARE = 0.5
_NOT_VERSIONED = frozenset({"n_threads"})
_ROWS_SHOWN = 5  # bad rows named in an error before "and N more"


@dataclass(frozen=True)
class UpliftConfig:
    """Which columns mean what, how to split, and how much data is enough.

    Days to evaluate on: `holdout_days` (the latest N decision days) or `holdout_share` (the
    latest whole days holding at least that share of rows); neither means a share of
    `DEFAULT_HOLDOUT_SHARE`. Without a `day_column` (a one-off experiment with no time order)
    the evaluation rows are a seeded random share instead.
    """

    campaign_id: str = "adhoc"
    target: str = ""  # what the outcome means, e.g. "purchase within 7 days"; default: its column name
    treatment_column: str = "treated"
    outcome_column: str = "converted"
    propensity_column: str = "propensity"
    # The comparison arm: 0/1 for a row held back for good, and its chance. Neither: every row not
    # treated, with 1 - propensity (a table where nothing unsent is ever sent later in its window).
    control_column: str | None = None
    control_propensity_column: str | None = None
    day_column: str | None = "run_date"  # as `reengage.learning.uplift.examples` names it
    features: tuple[str, ...] | None = None  # None: every column not named above
    feature_ts_column: str | None = None
    # Rows of one user (e.g. customer_id) share a cross-fitting fold and are drawn together by
    # the bootstrap: one user's daily decisions are not independent.
    cluster_column: str | None = None
    holdout_days: int | None = None
    holdout_share: float | None = None
    # With a cluster column: the share of users whose rows judge the model (the others' train
    # it); None puts every user on both sides, which a user's lasting arm and habits flatter.
    judging_user_share: float | None = DEFAULT_JUDGING_USER_SHARE
    gap_days: int = 0
    min_training_rows: int = 500
    min_evaluation_rows: int = 200
    min_rows_per_arm: int = 50  # in training and in evaluation, treated and holdout each
    bootstrap: int = 1000
    confidence: float = 0.95
    learner: LearnerConfig = field(default_factory=LearnerConfig)

    def __post_init__(self) -> None:
        if self.holdout_days is not None and self.holdout_share is not None:
            raise ValueError("give holdout_days or holdout_share, not both")
        if self.holdout_days is not None and self.holdout_days < 1:
            raise ValueError(f"holdout_days must be at least 1, got {self.holdout_days}")
        if self.holdout_share is not None and not 0 < self.holdout_share < 1:
            raise ValueError(f"holdout_share must be between 0 and 1, got {self.holdout_share}")
        if self.holdout_days is not None and self.day_column is None:
            raise ValueError("holdout_days needs a day_column")
        if self.gap_days < 0:
            raise ValueError(f"gap_days must be 0 or more, got {self.gap_days}")
        if self.judging_user_share is not None and not 0 < self.judging_user_share < 1:
            raise ValueError(f"judging_user_share must be between 0 and 1, got {self.judging_user_share}")
        if (self.control_column is None) != (self.control_propensity_column is None):
            raise ValueError("give control_column and control_propensity_column, or neither")

    @property
    def roles(self) -> tuple[str, ...]:
        """The columns that are not features."""
        named = (self.treatment_column, self.outcome_column, self.propensity_column)
        optional = (
            self.control_column,
            self.control_propensity_column,
            self.day_column,
            self.feature_ts_column,
            self.cluster_column,
        )
        return named + tuple(c for c in optional if c)


@dataclass
class TrainedUplift:
    """A fitted uplift model, what it was judged on, and everything needed to trust and reproduce it.

    `evaluation_rows` (the evaluation days' features) and `evaluation_scores` (their doubly
    robust effect scores) stay in memory so the registry can judge the current model on the
    same rows; they are never saved.
    """

    learner: UpliftLearner
    model_version: str
    campaign_id: str
    target: str
    training_days: tuple[date, ...]
    evaluation_days: tuple[date, ...]
    row_counts: dict[str, dict[str, int]]
    evaluation: UpliftEvaluation
    data_fingerprint: str
    config: dict[str, Any]
    library_versions: dict[str, str]
    learner_choice: str = LEARNER_CHOICE
    evaluation_rows: pd.DataFrame | None = field(default=None, repr=False, compare=False)
    evaluation_scores: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def features(self) -> tuple[str, ...]:
        return self.learner.features

    def predict_uplift(self, frame: pd.DataFrame) -> np.ndarray:
        return self.learner.predict_uplift(frame)


def resolve_features(table: pd.DataFrame, config: UpliftConfig) -> tuple[str, ...]:
    """The configured features, or every column that has no other role."""
    if config.features is not None:
        return tuple(config.features)
    return tuple(c for c in table.columns if c not in config.roles)


def derive_version(data_fingerprint: str, config: UpliftConfig, features: tuple[str, ...]) -> str:
    """`uplift-` + sha256(data, config, learner spec, features)[:16]: same inputs, same version, no clock."""
    payload = json.dumps(
        {
            "data": data_fingerprint,
            "config": versioned_config(config),
            "spec": LEARNER_SPEC,
            "features": features,
        },
        sort_keys=True,
        default=str,
    )
    return "uplift-" + hashlib.sha256(payload.encode()).hexdigest()[:16]


def versioned_config(config: UpliftConfig) -> dict[str, Any]:
    settings = asdict(config)
    settings["learner"] = {k: v for k, v in settings["learner"].items() if k not in _NOT_VERSIONED}
    return settings


def _rows(positions: np.ndarray) -> str:
    """'rows 3, 7 and 2 more' from 0-based positions (rows are counted from 1 after the header)."""
    shown = ", ".join(str(p + 1) for p in positions[:_ROWS_SHOWN])
    more = f" and {len(positions) - _ROWS_SHOWN} more" if len(positions) > _ROWS_SHOWN else ""
    return f"row{'s' if len(positions) > 1 else ''} {shown}{more}"


def _refuse(source: str, column: str, bad: np.ndarray, values: pd.Series, rule: str) -> None:
    positions = np.flatnonzero(bad)
    if len(positions):
        example = values.iloc[positions[0]]
        shown = repr(example) if isinstance(example, str) else str(example)
        raise UpliftInputError(f"{source}: column {column!r}, {_rows(positions)}: {rule} (found {shown})")


def _numbers(table: pd.DataFrame, column: str, source: str) -> np.ndarray:
    raw = table[column]
    values = pd.to_numeric(raw, errors="coerce").astype("float64").to_numpy()
    _refuse(source, column, ~np.isfinite(values), raw, "must be a number")
    return values


def validated_roles(table: pd.DataFrame, config: UpliftConfig, source: str = "table") -> pd.DataFrame:
    """The role columns as clean numbers and dates, or `UpliftInputError` naming source, column and rows."""
    named = {
        "treatment": config.treatment_column,
        "outcome": config.outcome_column,
        "propensity": config.propensity_column,
        "control": config.control_column,
        "control propensity": config.control_propensity_column,
        "day": config.day_column,
        "feature timestamp": config.feature_ts_column,
        "cluster": config.cluster_column,
    }
    for role, column in named.items():
        if column and column not in table.columns:
            raise UpliftInputError(
                f"{source}: no column {column!r} (the {role} column); its columns are {list(table.columns)}"
            )
    features = resolve_features(table, config)
    require_columns(table, features, f"{source} (features)")
    both = sorted(set(features) & set(config.roles))
    if both:
        raise UpliftInputError(
            f"{source}: column(s) {both} are named as features and also as treatment, outcome, "
            "propensity, control, control propensity, day, feature timestamp or cluster"
        )
    treated = _numbers(table, config.treatment_column, source)
    not_binary = ~np.isin(treated, (0.0, 1.0))
    _refuse(source, config.treatment_column, not_binary, table[config.treatment_column], "must be 0 or 1")
    outcome = _numbers(table, config.outcome_column, source)
    propensity = _numbers(table, config.propensity_column, source)
    outside = ~((propensity > 0) & (propensity < 1))
    rule = "must be strictly between 0 and 1"
    _refuse(source, config.propensity_column, outside, table[config.propensity_column], rule)
    control, control_propensity = 1 - treated, 1 - propensity
    if config.control_column and config.control_propensity_column:
        control = _numbers(table, config.control_column, source)
        bad = ~np.isin(control, (0.0, 1.0)) | ((control == 1) & (treated == 1))
        rule = "must be 0 or 1, and 0 on a treated row"
        _refuse(source, config.control_column, bad, table[config.control_column], rule)
        control_propensity = _numbers(table, config.control_propensity_column, source)
        outside = ~((control_propensity > 0) & (control_propensity + propensity <= 1 + 1e-9))
        rule = "must be above 0 and at most 1 minus the propensity"
        column = config.control_propensity_column
        _refuse(source, column, outside, table[column], rule)
    clean = pd.DataFrame(
        {
            "treated": treated,
            "outcome": outcome,
            "propensity": propensity,
            "control": control,
            "control_propensity": control_propensity,
        },
        index=table.index,
    )
    if config.day_column:
        days = pd.to_datetime(table[config.day_column], errors="coerce", utc=True)
        _refuse(source, config.day_column, days.isna().to_numpy(), table[config.day_column], "must be a date")
        clean["day"] = days.dt.date
    if config.feature_ts_column:
        column = table[config.feature_ts_column]
        stamps = pd.to_datetime(column, errors="coerce", utc=True)
        unreadable = (stamps.isna() & column.notna()).to_numpy()
        _refuse(source, config.feature_ts_column, unreadable, column, "must be a timestamp")
        clean["feature_ts"] = stamps
    if config.cluster_column:
        column = table[config.cluster_column]
        _refuse(source, config.cluster_column, column.isna().to_numpy(), column, "must name the user")
        clean["cluster"] = column.astype(str).to_numpy()
    return clean


def _refuse_leakage(roles: pd.DataFrame, config: UpliftConfig, source: str) -> None:
    """No row's features may have read an event at or after the end of its decision day."""
    if "feature_ts" not in roles or "day" not in roles:
        return
    cutoffs = pd.to_datetime(roles["day"].map({d: cutoff(d) for d in set(roles["day"])}), utc=True)
    late = (roles["feature_ts"] >= cutoffs).to_numpy()
    if late.any():
        first = np.flatnonzero(late)[0]
        raise LeakageError(
            f"{source}: column {config.feature_ts_column!r}, {_rows(np.flatnonzero(late))}: features read "
            f"an event at {roles['feature_ts'].iloc[first].isoformat()}, at or after the row's cut-off "
            f"{cutoffs.iloc[first].isoformat()} (the end of decision day {roles['day'].iloc[first]})"
        )


def split_days(days: pd.Series, config: UpliftConfig) -> tuple[tuple[date, ...], tuple[date, ...]]:
    """(training days, evaluation days): the latest days are evaluated, `gap_days` before them unused."""
    distinct = sorted(set(days))
    if len(distinct) < 2:
        raise TrainingError(
            f"the table covers {len(distinct)} decision day(s); training and evaluation need 2+"
        )
    if config.holdout_days is not None:
        evaluation = distinct[-config.holdout_days :]
    else:
        share = config.holdout_share or DEFAULT_HOLDOUT_SHARE
        per_day = days.value_counts()
        evaluation, covered = [], 0
        for day in reversed(distinct):
            if covered >= share * len(days):
                break
            evaluation.insert(0, day)
            covered += int(per_day[day])
    first_evaluated = evaluation[0]
    training = [d for d in distinct if (first_evaluated - d).days > config.gap_days]
    if not training:
        raise TrainingError(
            f"no decision day is left for training: evaluation starts on {first_evaluated} and "
            f"{config.gap_days} gap day(s) come before it, but the table starts on {distinct[0]}"
        )
    if set(training) & set(evaluation) or max(training) >= first_evaluated:
        raise LeakageError(f"evaluation days {evaluation} overlap training days {training}")
    return tuple(training), tuple(evaluation)


def judging_users(clusters: pd.Series, share: float, salt: str) -> np.ndarray:
    """True on the rows of users who judge the model: blake2b(salt, user) read as a share below `share`.

    A hash of the key alone, not a seeded draw or a library's hash, so a user stays on the same
    side in every fit and every version of the product.
    """
    side = {}
    for key in pd.unique(clusters.to_numpy()):
        digest = hashlib.blake2b(f"{salt}\x1f{key}".encode(), digest_size=8).digest()
        side[key] = int.from_bytes(digest, "big") / 2**64 < share
    return clusters.map(side).to_numpy(dtype=bool)


def _arm_counts(treated: np.ndarray, control: np.ndarray, outcome: np.ndarray) -> dict[str, int]:
    """Rows per arm, and rows with an outcome (a conversion, or any non-zero value) per arm."""
    happened = outcome != 0
    return {
        "rows": len(treated),
        "treated": int(treated.sum()),
        "holdout": int(control.sum()),
        "treated_outcomes": int((happened & (treated == 1)).sum()),
        "holdout_outcomes": int((happened & (control == 1)).sum()),
    }


def _check_enough(name: str, counts: dict[str, int], min_rows: int, config: UpliftConfig) -> None:
    if counts["rows"] < min_rows:
        raise TrainingError(f"{name} has {counts['rows']} rows; at least {min_rows} are needed")
    for arm in ("treated", "holdout"):
        if counts[arm] < config.min_rows_per_arm:
            raise TrainingError(
                f"{name} has {counts[arm]} {arm} rows (of {counts['rows']}); each arm needs at least "
                f"{config.min_rows_per_arm} to estimate an effect"
            )


def train_and_evaluate(table: pd.DataFrame, config: UpliftConfig, source: str = "table") -> TrainedUplift:
    """Fit on the earlier days (of the learning users), evaluate on the latest (of the judging users);
    `source` names the table in error messages.

    Raises `UpliftInputError` (bad column or values), `LeakageError` (features from after the
    cut-off) or `TrainingError` (too few rows, or too few of either arm).
    """
    features = resolve_features(table, config)
    roles = validated_roles(table, config, source)
    _refuse_leakage(roles, config, source)

    used = table[[*features, *config.roles]].reset_index(drop=True)
    roles = roles.reset_index(drop=True)
    canonical = np.argsort(pd.util.hash_pandas_object(used, index=False).to_numpy(), kind="stable")
    used, roles = used.iloc[canonical].reset_index(drop=True), roles.iloc[canonical].reset_index(drop=True)

    splits_users = config.cluster_column is not None and config.judging_user_share is not None
    if splits_users:
        judging = judging_users(roles["cluster"], config.judging_user_share, config.campaign_id)
        learning = ~judging
    else:
        judging = learning = np.ones(len(used), dtype=bool)
    if config.day_column:
        training_days, evaluation_days = split_days(roles["day"], config)
        in_training = roles["day"].isin(set(training_days)).to_numpy() & learning
        in_evaluation = roles["day"].isin(set(evaluation_days)).to_numpy() & judging
    elif splits_users:
        training_days, evaluation_days = (), ()
        in_training, in_evaluation = learning, judging
    else:
        training_days, evaluation_days = (), ()
        share = config.holdout_share or DEFAULT_HOLDOUT_SHARE
        picked = np.random.default_rng(config.learner.seed).permutation(len(used))[: round(share * len(used))]
        in_evaluation = np.zeros(len(used), dtype=bool)
        in_evaluation[picked] = True
        in_training = ~in_evaluation

    t, y, e, c, e0 = (
        roles[column].to_numpy()
        for column in ("treated", "outcome", "propensity", "control", "control_propensity")
    )
    counts = {
        "training": _arm_counts(t[in_training], c[in_training], y[in_training]),
        "evaluation": _arm_counts(t[in_evaluation], c[in_evaluation], y[in_evaluation]),
    }
    _check_enough("training data", counts["training"], config.min_training_rows, config)
    _check_enough("evaluation data", counts["evaluation"], config.min_evaluation_rows, config)

    x = used[list(features)]
    clusters = roles["cluster"].to_numpy() if config.cluster_column else None
    training_clusters = clusters[in_training] if clusters is not None else None
    learner = fit_uplift(
        x[in_training],
        t[in_training],
        y[in_training],
        e[in_training],
        config.learner,
        control=c[in_training],
        control_propensity=e0[in_training],
        cluster=training_clusters,
    )
    held_out = x[in_evaluation].reset_index(drop=True)
    t_eval, y_eval, e_eval = t[in_evaluation], y[in_evaluation], e[in_evaluation]
    c_eval, e0_eval = c[in_evaluation], e0[in_evaluation]
    evaluation_clusters = clusters[in_evaluation] if clusters is not None else None
    # The evaluation rows' own cross-fitted outcome models: no model that learned a row's outcome
    # corrects it, and nothing from the training days is needed to judge the ranking.
    mu0, mu1 = cross_fitted_outcome_models(
        held_out,
        t_eval,
        y_eval,
        control=c_eval,
        cluster=evaluation_clusters,
        folds=config.learner.n_folds,
        seed=config.learner.seed,
        n_threads=config.learner.n_threads,
    )
    evaluation = evaluate_uplift(
        learner.predict_uplift(held_out),
        t_eval,
        y_eval,
        e_eval,
        mu0=mu0,
        mu1=mu1,
        control=c_eval,
        control_propensity=e0_eval,
        bootstrap=config.bootstrap,
        seed=config.learner.seed,
        confidence=config.confidence,
        cluster=evaluation_clusters,
    )
    data_fingerprint = fingerprint(used)
    return TrainedUplift(
        learner=learner,
        model_version=derive_version(data_fingerprint, config, features),
        campaign_id=config.campaign_id,
        target=config.target or config.outcome_column,
        training_days=training_days,
        evaluation_days=evaluation_days,
        row_counts=counts,
        evaluation=evaluation,
        data_fingerprint=data_fingerprint,
        config=versioned_config(config),
        library_versions=library_versions(),
        evaluation_rows=held_out,
        evaluation_scores=row_effect_scores(t_eval, y_eval, e_eval, mu0, mu1, c_eval, e0_eval),
    )
