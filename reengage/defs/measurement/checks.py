"""Checks on `campaign_measurement` that put a broken experiment or a harmful campaign in the UI's colours.

Both read what the measurement wrote for the run date (measurement.campaign_srm,
guardrail_metrics and campaign_guardrails) and are not blocking: measurement runs after the
day's mail went out, and stopping the report would hide the very numbers a person needs.

- `no_sample_ratio_mismatch`: a campaign whose users per (variant, arm) cell are far from its
  planned shares (chi-square p-value below `srm_threshold`) fails with ERROR: its assignment is
  broken and none of its lifts can be trusted until someone finds why.
- `no_guardrail_breached`: a campaign over its unsubscribe, spam, bounce or SMS opt-out limit fails with WARN
  when the breach paused it (the next day's list leaves it out on its own), with ERROR when
  pausing is turned off for it and it keeps mailing.

No `from __future__ import annotations` here: Dagster reads the check function's
annotations at definition time.
"""

from collections.abc import Callable, Sequence
from datetime import date

import dagster as dg
import duckdb

from reengage.defs.measurement.assets import campaign_measurement
from reengage.defs.quality.checks import judge_run_dates
from reengage.schema.declared import CAMPAIGN_GUARDRAILS, CAMPAIGN_SRM, GUARDRAIL_METRICS
from reengage.warehouse import WarehouseResource


def srm_result(con: duckdb.DuckDBPyConnection, days: Sequence[date]) -> dg.AssetCheckResult:
    """Campaigns whose arms are out of their planned ratio on the run dates (ids only, never a person)."""
    rows = con.execute(
        f"select run_date, campaign_id, cells, observed, expected, p_value from {CAMPAIGN_SRM.name} "
        "where run_date in (select unnest(?)) and mismatch order by run_date, campaign_id",
        [list(days)],
    ).fetchall()
    (tested,) = con.execute(
        f"select count(*) from {CAMPAIGN_SRM.name} where run_date in (select unnest(?))", [list(days)]
    ).fetchone()
    if not rows:
        return dg.AssetCheckResult(
            passed=True,
            description=f"{tested} campaign(s) tested; every one's arms match their planned shares",
            metadata={"campaigns_tested": tested, "mismatches": 0},
        )
    lines = [
        f"- {campaign} ({day}): cells {cells}, observed {observed}, expected {expected}, p = {p:.2g}"
        for day, campaign, cells, observed, expected, p in rows
    ]
    return dg.AssetCheckResult(
        passed=False,
        severity=dg.AssetCheckSeverity.ERROR,
        description=f"sample-ratio mismatch in {len(rows)} campaign(s): their lifts cannot be trusted "
        "until the assignment is explained\n" + "\n".join(lines),
        metadata={
            "campaigns_tested": tested,
            "mismatches": len(rows),
            "campaigns": dg.MetadataValue.json(sorted({row[1] for row in rows})),
        },
    )


def guardrail_result(con: duckdb.DuckDBPyConnection, days: Sequence[date]) -> dg.AssetCheckResult:
    """Campaigns over a guardrail on the run dates, and whether the breach paused them."""
    rows = con.execute(
        f"""
        select g.run_date, g.campaign_id, g.variant, g.metric, g.rate, g.excess, g.limit_value,
               coalesce(p.paused, false) as paused
        from {GUARDRAIL_METRICS.name} as g
        left join {CAMPAIGN_GUARDRAILS.name} as p using (run_date, campaign_id)
        where g.run_date in (select unnest(?)) and g.breached
        order by g.run_date, g.campaign_id, g.variant, g.metric
        """,
        [list(days)],
    ).fetchall()
    if not rows:
        return dg.AssetCheckResult(
            passed=True, description="no campaign over a guardrail", metadata={"breaches": 0}
        )
    unpaused = sorted({campaign for _, campaign, *_, paused in rows if not paused})
    lines = [
        f"- {campaign} ({day}{'' if variant == 'all' else f', variant {variant}'}): {metric} {rate:.2%} "
        f"(excess {excess:.2%}) over limit {limit:.2%}, {'paused' if paused else 'NOT paused'}"
        for day, campaign, variant, metric, rate, excess, limit, paused in rows
    ]
    verdict = (
        f"{', '.join(unpaused)} keep(s) mailing: pausing is off for them"
        if unpaused
        else "every one is paused from the next day on"
    )
    return dg.AssetCheckResult(
        passed=False,
        severity=dg.AssetCheckSeverity.ERROR if unpaused else dg.AssetCheckSeverity.WARN,
        description=f"guardrail breached in {len({row[1] for row in rows})} campaign(s); {verdict}\n"
        + "\n".join(lines),
        metadata={
            "breaches": len(rows),
            "campaigns": dg.MetadataValue.json(sorted({row[1] for row in rows})),
            "not_paused": dg.MetadataValue.json(unpaused),
        },
    )


def _judge(
    context: dg.AssetCheckExecutionContext,
    warehouse: WarehouseResource,
    verdict: Callable[[duckdb.DuckDBPyConnection, Sequence[date]], dg.AssetCheckResult],
) -> dg.AssetCheckResult:
    def on_days(days: list[date]) -> dg.AssetCheckResult:
        with warehouse.connect(read_only=True) as con:
            return verdict(con, days)

    return judge_run_dates(context, on_days)


@dg.asset_check(
    asset=campaign_measurement,
    name="no_sample_ratio_mismatch",
    blocking=False,
    description="Each campaign's users per variant and arm match its planned shares (SRM chi-square test); "
    "a mismatch is an ERROR: the campaign's lifts cannot be trusted.",
)
def no_sample_ratio_mismatch(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    return _judge(context, warehouse, srm_result)


@dg.asset_check(
    asset=campaign_measurement,
    name="no_guardrail_breached",
    blocking=False,
    description="No campaign is over its unsubscribe, spam, bounce or SMS opt-out limit: a breach that "
    "paused the campaign is a WARN, one that did not (pausing off) an ERROR.",
)
def no_guardrail_breached(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    return _judge(context, warehouse, guardrail_result)
