"""A blocking check on `campaign_sends`: a run that leaves messages of its day unsettled is not green.

Settled means accepted, failed with the provider's reason, expired with a reason, held
or cancelled. Rows still in flight (a sender at work, or one whose cancel is not
confirmed), in doubt, or planned and due (a run that stopped early) fail the check with
severity ERROR: the run fails, measurement does not run on a half-delivered day, and the
delivery notice says how many (defs/operations/delivery_notice.py). Planned rows meant
for more than 72 hours ahead are not due yet and do not count. Expired rows alone give a
WARN: settled, but messages that did not go out.

No `from __future__ import annotations` here: Dagster reads the check function's
annotations at definition time.
"""

import time

import dagster as dg

from reengage import settings
from reengage.defs.delivery.assets import campaign_sends
from reengage.defs.delivery.ledger import SendLedger
from reengage.defs.delivery.windows import SendWindows
from reengage.defs.quality.checks import partition_dates

CHECK_NAME = "every_message_settled"
UNSETTLED = ("in_flight", "in_doubt", "planned")


def settlement_result(ledger: SendLedger, days: list[str], now: float) -> dg.AssetCheckResult:
    """The check's verdict for the run dates, with counts only (never an id or an address)."""
    horizon = SendWindows.deferral_horizon(now)
    totals = dict.fromkeys((*UNSETTLED, "planned_later", "expired"), 0)
    for day in days:
        for state, n in ledger.settlement(day, horizon).items():
            totals[state] += n
        totals["expired"] += ledger.counts(day)["expired"]
    unsettled = sum(totals[state] for state in UNSETTLED)
    what = ", ".join(days)
    if unsettled:
        parts = ", ".join(f"{totals[s]} {s.replace('_', ' ')}" for s in UNSETTLED if totals[s])
        description = (
            f"{unsettled} message(s) of {what} not settled ({parts}); a later delivery run or "
            f"`python -m reengage.cli resolve --date <day>` settles them"
        )
        severity = dg.AssetCheckSeverity.ERROR
    elif totals["expired"]:
        description = f"every message of {what} settled; {totals['expired']} expired (see their reasons)"
        severity = dg.AssetCheckSeverity.WARN
    else:
        description = f"every message of {what} settled"
        severity = dg.AssetCheckSeverity.WARN
    return dg.AssetCheckResult(
        passed=not unsettled and not totals["expired"],
        severity=severity,
        description=description,
        metadata={"unsettled": unsettled, **totals},
    )


@dg.asset_check(
    asset=campaign_sends,
    name=CHECK_NAME,
    blocking=True,
    description="Every message of the run date is accepted, failed with the provider's reason, expired "
    "with a reason, held or cancelled: none left in flight, in doubt or planned and due.",
)
def every_message_settled(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
    days = [d.isoformat() for d in partition_dates(context) if d is not None]
    if not days:  # launched on its own outside a partitioned run: nothing to judge
        return dg.AssetCheckResult(passed=True, description="no run date to check")
    result = settlement_result(SendLedger(settings.ledger_path()), days, time.time())
    (context.log.info if result.passed else context.log.warning)(result.description)
    return result
