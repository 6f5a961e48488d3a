"""A blocking check on each delivery step (`campaign_sends`, `sms_sends`): a run that leaves messages of
its day unsettled is not green. One definition; each step's check judges its own channels' rows.

Settled means accepted, failed with the provider's reason, expired with a reason, held
or cancelled. Rows still in flight (a sender at work, or one whose cancel is not
confirmed), in doubt, or planned and due (a run that stopped early) fail the check with
severity ERROR: the run fails, measurement does not run on a half-delivered day, and the
delivery notice says how many (defs/operations/delivery_notice.py). Planned rows meant
for more than 72 hours ahead are not due yet and do not count. Failed rows (the provider's
reason recorded) and expired rows give a WARN: settled, so nothing downstream need wait, but
messages that did not go out, shown amber in the UI.

No `from __future__ import annotations` here: Dagster reads the check function's
annotations at definition time.
"""

import time
from collections.abc import Iterable

import dagster as dg

from reengage import settings
from reengage.defs.delivery.assets import campaign_sends, channels_sent_by, sms_sends
from reengage.defs.delivery.ledger import SendLedger
from reengage.defs.delivery.windows import SendWindows
from reengage.defs.quality.checks import judge_run_dates

CHECK_NAME = "every_message_settled"
UNSETTLED = ("in_flight", "in_doubt", "planned")
# Settled without going out: the provider refused them (its reason is recorded) or their window passed.
NOT_SENT = ("failed", "expired")


def settlement_result(
    ledger: SendLedger, days: list[str], now: float, channels: Iterable[str] | None = None
) -> dg.AssetCheckResult:
    """The check's verdict for the run dates (of `channels`, when named), with counts only (never an id
    or an address)."""
    horizon = SendWindows.deferral_horizon(now)
    totals = dict.fromkeys((*UNSETTLED, "planned_later", *NOT_SENT), 0)
    for day in days:
        for state, n in ledger.settlement(day, horizon, channels).items():
            totals[state] += n
        counts = ledger.counts(day, channels)
        for state in NOT_SENT:
            totals[state] += counts[state]
    unsettled = sum(totals[state] for state in UNSETTLED)
    not_sent = ", ".join(f"{totals[s]} {s}" for s in NOT_SENT if totals[s])
    what = ", ".join(days)
    if unsettled:
        parts = ", ".join(f"{totals[s]} {s.replace('_', ' ')}" for s in UNSETTLED if totals[s])
        description = (
            f"{unsettled} message(s) of {what} not settled ({parts}); a later delivery run or "
            f"`python -m reengage.cli resolve --date <day>` settles them"
        )
        severity = dg.AssetCheckSeverity.ERROR
    elif not_sent:
        description = f"every message of {what} settled; {not_sent} (see their reasons)"
        severity = dg.AssetCheckSeverity.WARN
    else:
        description = f"every message of {what} settled"
        severity = dg.AssetCheckSeverity.WARN
    return dg.AssetCheckResult(
        passed=not unsettled and not not_sent,
        severity=severity,
        description=description,
        metadata={"unsettled": unsettled, **totals},
    )


def settled_check(asset: dg.AssetsDefinition, kind: str) -> dg.AssetChecksDefinition:
    """The blocking check on a delivery step: its channels' messages of the run date all settled."""

    @dg.asset_check(
        asset=asset,
        name=CHECK_NAME,
        blocking=True,
        description="Every message of the run date is accepted, failed with the provider's reason, expired "
        "with a reason, held or cancelled: none left in flight, in doubt or planned and due (ERROR); "
        "failed or expired messages give a WARN.",
    )
    def every_message_settled(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        ledger = SendLedger(settings.ledger_path())
        return judge_run_dates(
            context,
            lambda days: settlement_result(
                ledger, [day.isoformat() for day in days], time.time(), channels_sent_by(kind)
            ),
        )

    return every_message_settled


every_message_settled = settled_check(campaign_sends, "sendgrid")
every_text_settled = settled_check(sms_sends, "twilio")
