"""The delivery step: the day's intervention list through the send ledger to SendGrid."""

import json
from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, date, datetime

import dagster as dg
import pandas as pd

from reengage import settings
from reengage.channels import CHANNELS
from reengage.defs.delivery.ledger import SendLedger
from reengage.defs.delivery.metadata import delivery_breakdown
from reengage.defs.delivery.payloads import OutboundMessage
from reengage.defs.delivery.resource import SendGridResource
from reengage.partitions import daily_partitions
from reengage.schema.declared import CAMPAIGN_SENDS
from reengage.tables import replace_run_date
from reengage.warehouse import WarehouseResource, transaction


class DeliveryConfig(dg.Config):
    """Backfills re-run old days; sending old decisions would surprise customers, so it needs a flag."""

    allow_past_dates: bool = False


def past_dates_allowed() -> dict:
    """Run config that lets delivery send for a date already past: a deliberate backfill, or a
    run that started on its day and reaches delivery after midnight UTC."""
    return {"ops": {"campaign_sends": {"config": {"allow_past_dates": True}}}}


@dg.asset(
    partitions_def=daily_partitions,
    group_name="delivery",
    kinds={"sendgrid", "sqlite"},
    deps=[dg.AssetKey(["intervention_list"])],
    owners=["team:data-engineering"],
    pool="sendgrid_delivery",
)
def campaign_sends(
    context: dg.AssetExecutionContext,
    config: DeliveryConfig,
    warehouse: WarehouseResource,
    sendgrid: SendGridResource,
) -> dg.MaterializeResult:
    """Every planned message of the day sent exactly once, or held, or failed or expired with a reason."""
    run_date = date.fromisoformat(context.partition_key)
    ledger = SendLedger(settings.ledger_path())
    today = datetime.now(UTC).date()
    note = ""
    if run_date < today and not config.allow_past_dates:
        note = f"{run_date} is in the past: nothing sent (set allow_past_dates to force)"
        context.log.warning(note)
        skipped = True
    else:
        skipped = False
        sendgrid.check_configured()  # no provider named: stop before the ledger plans anything
        with warehouse.connect(read_only=True) as con:
            chosen = con.execute(
                "select * from interventions.intervention_list where run_date = ? order by send_id",
                [run_date],
            ).df()
        refuse_channels_without_this_sender(chosen, sendgrid_channel_names())
        held = chosen[chosen["arm"] == "holdout"]
        ledger.plan(
            {
                "customer_id": r.customer_id,
                "campaign_id": r.campaign_id,
                "run_date": run_date,
                "channel": r.channel,
                "variant": r.variant,
                "state": "held",
                "reason": "holdout",
            }
            for r in held.itertuples()
        )
        report = sendgrid.deliver(
            ledger.path,
            to_messages(chosen[chosen["arm"] == "treatment"]),
            run_date=run_date.isoformat(),
            run_id=context.run_id,
        )
        context.log.info(f"delivery for {run_date}: {json.dumps(report.as_metadata())}")
    rows = mirror_ledger(warehouse, ledger, run_date)
    counts = ledger.counts(run_date)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            "run_date": run_date.isoformat(),
            "skipped_past_date": skipped,
            **({"note": note} if note else {}),
            **{f"state/{state}": n for state, n in counts.items()},
            **delivery_breakdown(warehouse, run_date),
        }
    )


def sendgrid_channel_names() -> set[str]:
    """The channels SendGrid sends (email)."""
    return {name for name, channel in CHANNELS.items() if channel.sender == "sendgrid"}


def refuse_channels_without_this_sender(chosen: pd.DataFrame, sent_here: set[str]) -> None:
    """Stop before the ledger plans anything when the list holds a channel this step cannot send.

    Leaving such rows out would lose them silently; planning them here would have them sent, or
    held, by the wrong provider.
    """
    others = sorted(set(chosen["channel"]) - sent_here)
    if others:
        raise dg.Failure(
            f"the intervention list holds messages on channel(s) {', '.join(others)}, which no delivery "
            f"step sends (this one sends {', '.join(sorted(sent_here))}); nothing was planned or sent"
        )


def to_messages(rows: pd.DataFrame) -> Iterator[OutboundMessage]:
    """Intervention-list rows as outbound messages: a dynamic template, or the rendered subject and body.

    A generator: the sender reads it chunk by chunk, so a big day's messages (and their
    template data) are never all built at once.
    """
    rows = rows.astype(object).where(rows.notna(), None)  # NaN is truthy and not JSON: make it None
    for r in rows.itertuples():
        yield OutboundMessage(
            customer_id=r.customer_id,
            campaign_id=r.campaign_id,
            variant=r.variant,
            run_date=r.run_date,
            email=r.contact,
            template_id=r.template_id,
            subject=None if r.template_id else r.subject,
            html_content=None if r.template_id else r.body,
            template_data=json.loads(r.template_data or "{}"),
            send_at=int(pd.Timestamp(r.scheduled_send_at_utc).timestamp()),
            to_name=r.first_name,
        )


def mirror_ledger(warehouse: WarehouseResource, ledger: SendLedger, run_date: date) -> int:
    """Copy the ledger's rows for the day into the warehouse, where caps and measurement read them.

    Only the declared columns (schema.declared.CAMPAIGN_SENDS): the ledger's own bookkeeping
    (send windows, which sender holds a row) stays in the ledger.
    """
    frame = pd.DataFrame([asdict(row) for row in ledger.rows(run_date)], columns=CAMPAIGN_SENDS.names)
    with warehouse.connect() as con:
        con.execute(f"create schema if not exists {CAMPAIGN_SENDS.schema}")
        con.execute(CAMPAIGN_SENDS.ddl())  # the first delivery creates it (schema.declared says why)
        with transaction(con):
            return replace_run_date(con, CAMPAIGN_SENDS.name, run_date, frame)
