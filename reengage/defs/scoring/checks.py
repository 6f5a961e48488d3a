"""A blocking check on `churn_scores`: a day with customers to score and no score is red in the UI.

`churn_scores` writes no rows, on purpose, before any churn model was promoted (a new install
whose history is too short to train): the day still runs without score triggers, so that
case is a WARN (amber, nothing stopped). With a promoted model, no score for a day that has
customers means the scoring went wrong: the check fails with severity ERROR and, being
blocking, stops the intervention list and delivery, which would otherwise decide the day as
if nobody were at risk.

No `from __future__ import annotations` here: Dagster reads the check function's
annotations at definition time.
"""

from collections.abc import Sequence
from datetime import date

import dagster as dg
import duckdb

from reengage import settings
from reengage.defs.quality.checks import judge_run_dates
from reengage.defs.scoring.assets import churn_scores
from reengage.learning import registry
from reengage.learning.features import customers_to_score
from reengage.learning.scoring import SCORES_TABLE
from reengage.warehouse import WarehouseResource

CHECK_NAME = "every_customer_scored"


def scored_result(
    con: duckdb.DuckDBPyConnection, days: Sequence[date], model_version: str | None
) -> dg.AssetCheckResult:
    """The check's verdict for the run dates: counts of customers and scores, never an id."""
    unscored = {}
    customers = scores = 0
    for day in days:
        to_score = customers_to_score(con, day)
        (scored,) = con.execute(f"select count(*) from {SCORES_TABLE} where run_date = ?", [day]).fetchone()
        customers, scores = customers + to_score, scores + scored
        if to_score and not scored:
            unscored[day] = to_score
    metadata = {"customers_to_score": customers, "scores": scores, "model_version": model_version or "none"}
    if not unscored:
        return dg.AssetCheckResult(
            passed=True,
            description=f"{scores} score(s) for {customers} customer(s) to score",
            metadata=metadata,
        )
    what = ", ".join(f"{n} customer(s) on {day}" for day, n in unscored.items())
    if model_version is None:
        return dg.AssetCheckResult(
            passed=False,
            severity=dg.AssetCheckSeverity.WARN,
            description=f"no churn scores for {what}: no churn model promoted yet (churn_model says why); "
            "the day runs without score triggers",
            metadata=metadata,
        )
    return dg.AssetCheckResult(
        passed=False,
        severity=dg.AssetCheckSeverity.ERROR,
        description=f"no churn scores for {what} although model {model_version} is promoted; "
        "interventions and delivery do not run on a day nobody was scored",
        metadata=metadata,
    )


@dg.asset_check(
    asset=churn_scores,
    name=CHECK_NAME,
    blocking=True,
    description="A run date with customers to score has churn scores: none with a promoted model is an "
    "ERROR that stops interventions and delivery; none before any model was promoted is a WARN.",
)
def every_customer_scored(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    def verdict(days: list[date]) -> dg.AssetCheckResult:
        with warehouse.connect(read_only=True) as con:
            return scored_result(con, days, registry.current_version(settings.model_dir()))

    return judge_run_dates(context, verdict)
