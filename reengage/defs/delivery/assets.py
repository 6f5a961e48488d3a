"""The delivery steps: the day's intervention list through the send ledger, email to SendGrid
(`campaign_sends`) and SMS to Twilio (`sms_sends`).

Each step reads the list's rows of the channels its provider sends (the channel's `sender`) and
stops, before planning anything, when the list holds a channel no step sends: leaving such rows
out would lose them silently.
"""

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict
from datetime import UTC, date, datetime

import dagster as dg
import pandas as pd

from reengage import settings
from reengage.channels import CHANNELS
from reengage.defs.delivery.ledger import SendLedger
from reengage.defs.delivery.metadata import delivery_breakdown
from reengage.defs.delivery.payloads import OutboundMessage
from reengage.defs.delivery.report import DeliveryReport
from reengage.defs.delivery.resource import SendGridResource
from reengage.defs.delivery.sms_sender import SmsMessage
from reengage.defs.delivery.twilio_resource import TwilioResource
from reengage.partitions import daily_partitions
from reengage.schema.declared import CAMPAIGN_SENDS
from reengage.tables import as_frame, replace_run_date
from reengage.warehouse import WarehouseResource, transaction


class DeliveryConfig(dg.Config):
    """Backfills re-run old days; sending old decisions would surprise customers, so it needs a flag."""

    allow_past_dates: bool = False


# The delivery steps of the daily job, each with a DeliveryConfig, and the resource kinds they send with.
DELIVERY_STEPS = ("campaign_sends", "sms_sends")
DELIVERY_KINDS = ("sendgrid", "twilio")


def past_dates_allowed(steps: Iterable[str] = ("campaign_sends",)) -> dict:
    """Run config that lets delivery steps send for a date already past: a deliberate backfill, or a
    run that started on its day and reaches delivery after midnight UTC. Name every delivery step
    the run holds (DELIVERY_STEPS for the daily job)."""
    return {"ops": {step: {"config": {"allow_past_dates": True}} for step in steps}}


def channels_sent_by(kind: str) -> set[str]:
    """The channels whose sender is this kind of resource ("sendgrid", "twilio")."""
    return {name for name, channel in CHANNELS.items() if channel.sender == kind}


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
    return deliver_day(
        context,
        config,
        warehouse,
        kind="sendgrid",
        check_configured=sendgrid.check_configured,
        send=lambda ledger, chosen, run_date: sendgrid.deliver(
            ledger.path, to_messages(chosen), run_date=run_date.isoformat(), run_id=context.run.run_id
        ),
    )


@dg.asset(
    partitions_def=daily_partitions,
    group_name="delivery",
    kinds={"twilio", "sqlite"},
    deps=[dg.AssetKey(["intervention_list"])],
    owners=["team:data-engineering"],
    pool="sendgrid_delivery",  # one delivering step at a time: the ledger's senders assume it
)
def sms_sends(
    context: dg.AssetExecutionContext,
    config: DeliveryConfig,
    warehouse: WarehouseResource,
    twilio: TwilioResource,
) -> dg.MaterializeResult:
    """Every planned text of the day sent exactly once through Twilio, or held, failed or expired with why."""
    return deliver_day(
        context,
        config,
        warehouse,
        kind="twilio",
        check_configured=twilio.check_configured,
        send=lambda ledger, chosen, run_date: twilio.deliver(
            ledger.path, to_sms_messages(chosen), run_date=run_date.isoformat(), run_id=context.run.run_id
        ),
    )


def deliver_day(
    context: dg.AssetExecutionContext,
    config: DeliveryConfig,
    warehouse: WarehouseResource,
    *,
    kind: str,
    check_configured: Callable[[], None],
    send: Callable[[SendLedger, pd.DataFrame, date], DeliveryReport],
) -> dg.MaterializeResult:
    """One delivery step for the run date: the list's rows of this kind's channels planned (holdout
    rows held) and sent; metadata with counts per state, never a contact or a body."""
    run_date = date.fromisoformat(context.partition_key)
    ledger = SendLedger(settings.ledger_path())
    channels = channels_sent_by(kind)
    today = datetime.now(UTC).date()
    note = ""
    skipped = run_date < today and not config.allow_past_dates
    if skipped:
        note = f"{run_date} is in the past: nothing sent (set allow_past_dates to force)"
        context.log.warning(note)
    else:
        with warehouse.connect(read_only=True) as con:
            chosen = as_frame(
                con.execute(
                    "select * from interventions.intervention_list where run_date = ? order by send_id",
                    [run_date],
                )
            )
        refuse_channels_no_step_sends(chosen)
        chosen = chosen[chosen["channel"].isin(channels)]
        if chosen.empty:
            note = f"no {', '.join(sorted(channels)) or kind} message in the list for {run_date}"
        else:
            check_configured()  # no provider named: stop before the ledger plans anything
            plan_held(ledger, chosen[chosen["arm"] == "holdout"], run_date)
            report = send(ledger, chosen[chosen["arm"] == "treatment"], run_date)
            context.log.info(f"{kind} delivery for {run_date}: {json.dumps(report.as_metadata())}")
    rows = mirror_ledger(warehouse, ledger, run_date)
    counts = ledger.counts(run_date, channels)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            "run_date": run_date.isoformat(),
            "channels": ", ".join(sorted(channels)),
            "skipped_past_date": skipped,
            **({"note": note} if note else {}),
            **{f"state/{state}": n for state, n in counts.items()},
            **delivery_breakdown(warehouse, run_date, channels),
        }
    )


def plan_held(ledger: SendLedger, held: pd.DataFrame, run_date: date) -> None:
    """Record the holdout rows as held: never sent, counted as if sent by caps and measurement."""
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


def refuse_channels_no_step_sends(chosen: pd.DataFrame) -> None:
    """Stop before the ledger plans anything when the list holds a channel no delivery step sends.

    Leaving such rows out would lose them silently; planning them in a step would have them sent, or
    held, by the wrong provider.
    """
    sent = {name for kind in DELIVERY_KINDS for name in channels_sent_by(kind)}
    others = sorted(set(chosen["channel"]) - sent)
    if others:
        raise dg.Failure(
            f"the intervention list holds messages on channel(s) {', '.join(others)}, which no delivery "
            f"step sends (the steps send {', '.join(sorted(sent))}); nothing was planned or sent"
        )


def to_sms_messages(rows: pd.DataFrame) -> Iterator[SmsMessage]:
    """Intervention-list rows as texts: the contact (an E.164 number) and the rendered body."""
    rows = rows.astype(object).where(rows.notna(), None)
    for r in rows.itertuples():
        yield SmsMessage(
            customer_id=r.customer_id,
            campaign_id=r.campaign_id,
            variant=r.variant,
            run_date=r.run_date,
            to=str(r.contact or ""),
            body=str(r.body or ""),
            send_at=int(pd.Timestamp(r.scheduled_send_at_utc).timestamp()),
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
