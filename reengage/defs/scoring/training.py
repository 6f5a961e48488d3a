"""When a model is (re)fitted: on its schedule, on a cold start, or when its features changed meaning.

The daily job applies the current model; fitting is the weekly `model_training` job's work.
The daily run fits only when it has to: nothing was ever fitted (a new install, the demo: the
first run that can fit does), or the features contract the current model was fitted under is
not today's (see contracts.py). One fit under a new contract is enough: if its candidate is
not promoted (the churn model must beat the current one on the same holdout), the current
model has been judged on today's features and stays until the weekly job.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from reengage.defs.scoring.contracts import FeaturesContract

SCHEDULE = "the weekly model_training job"


@dataclass(frozen=True)
class FitDecision:
    fit: bool
    reason: str
    cold_start: bool = False


def fit_decision(
    what: str,
    current_version: str | None,
    current_contract: Mapping[str, str] | None,
    contract: FeaturesContract,
    *,
    requested: bool,
    tried_under_contract: Sequence[str] = (),
) -> FitDecision:
    """Whether this run fits `what` (e.g. "churn model"), and the sentence that says why (or why not)."""
    if requested:
        return FitDecision(True, f"{what} fit requested (config retrain: true, as {SCHEDULE} runs it)")
    if current_version is None:
        return FitDecision(
            True, f"cold start: no {what} was ever promoted, so this run fits the first one", cold_start=True
        )
    if (
        current_contract is not None
        and contract.fingerprint == FeaturesContract(current_contract).fingerprint
    ):
        return FitDecision(
            False,
            f"{current_version} is current and its features contract matches the warehouse's; "
            f"{SCHEDULE} refits it",
        )
    changes = contract.describe_changes(current_contract or {})
    if tried_under_contract:
        return FitDecision(
            False,
            f"keeping {current_version}: the features contract changed since it was fitted ({changes}), "
            f"and {tried_under_contract[-1]}, fitted under today's contract, did not replace it; "
            f"{SCHEDULE} refits it",
        )
    return FitDecision(
        True, f"the features contract changed since {current_version} was fitted ({changes}); refitting"
    )
