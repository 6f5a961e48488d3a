"""`python -m reengage.cli resolve --date D`: settle what a crashed or stopped delivery left.

For run date D, with the provider settings of the code location (email: SENDGRID_API_KEY and
REENGAGE_SENDGRID_HOST, or REENGAGE_LOCAL_SINK_URL naming a local sink; SMS: the Twilio credentials
and Messaging Service, or REENGAGE_TWILIO_LOCAL_SINK_URL), each channel by its own delivery,
a provider only asked for when the ledger holds messages of its channels that day:

1. rows in flight whose sender is gone are settled: email rows' batch is cancelled while
   SendGrid still allows it and they are requeued (settling.py), an SMS row is looked up at
   Twilio and recorded accepted when found, requeued when not (sms_sender.py); too late for
   that, expired with the reason (the provider may have them; never resent);
2. the day's messages still planned are sent again from the intervention list in the
   warehouse (only rows the ledger already knows: resolve never starts a day's delivery),
   while their send window is open, and expired with the reason once it has closed;
3. the ledger's rows for D are mirrored into the warehouse again.

It prints counts only (never an address or an id of a person) and exits 1 when something
is still not settled: in flight with a sender still at work, in doubt (the provider did
not confirm a cancel), or planned without an intervention list to send it from.
"""

from __future__ import annotations

import argparse
import time
from datetime import date

import duckdb
import pandas as pd

from reengage import settings
from reengage.defs.delivery.assets import channels_sent_by, mirror_ledger, to_messages, to_sms_messages
from reengage.defs.delivery.ledger import SendLedger
from reengage.defs.delivery.report import DeliveryReport
from reengage.defs.delivery.resource import SendGridResource
from reengage.defs.delivery.twilio_resource import twilio_from_environment
from reengage.defs.delivery.windows import SendWindows
from reengage.schema.declared import INTERVENTION_LIST
from reengage.tables import as_frame
from reengage.warehouse import WarehouseResource
from reengage.wording import counted

TO_SETTLE = frozenset({"planned", "in_flight"})


def add_resolve_parser(commands: argparse._SubParsersAction) -> None:
    resolve = commands.add_parser(
        "resolve",
        help="settle a run date's deliveries a crash or a stop left in flight, in doubt or unsent",
        description="Cancel-then-resend what SendGrid still allows, look texts up at Twilio (recorded if "
        "found, resent if not), expire the rest with the reason, and say what could not be settled "
        "(docs/operations.md).",
    )
    resolve.add_argument("--date", required=True, type=date.fromisoformat, help="the run date, YYYY-MM-DD")


def run_resolve(args: argparse.Namespace) -> int:
    day: date = args.date
    ledger = SendLedger(settings.ledger_path())
    before = ledger.counts(day)
    if not any(before.values()):
        print(f"resolve {day}: the send ledger has no message for this day; nothing to settle")
        return 0
    warehouse = WarehouseResource()
    chosen, note = _rows_to_settle(warehouse, ledger, day)
    report = texts_report = DeliveryReport(run_dates=[])
    email, sms = channels_sent_by("sendgrid"), channels_sent_by("twilio")
    if any(ledger.counts(day, email).values()):
        # Outside Dagster the key cannot be an EnvVar: the resource reads SENDGRID_API_KEY itself.
        sendgrid = SendGridResource(host=settings.sendgrid_host(), local_sink_url=settings.local_sink_url())
        emails = to_messages(chosen[chosen["channel"].isin(email)])
        report = sendgrid.deliver(ledger.path, emails, run_date=day.isoformat(), run_id="resolve")
    if any(ledger.counts(day, sms).values()):
        texts = to_sms_messages(chosen[chosen["channel"].isin(sms)])
        texts_report = twilio_from_environment().deliver(
            ledger.path, texts, run_date=day.isoformat(), run_id="resolve"
        )
    try:
        mirror_ledger(warehouse, ledger, day)
    except duckdb.Error as err:
        what = type(err).__name__
        note += f"\nthe ledger's copy in the warehouse was not refreshed ({what}): the next run does it"
    after = ledger.counts(day)
    left = ledger.settlement(day, SendWindows.deferral_horizon(time.time()))
    print(
        f"resolve {day}: {report.recovered} requeued after their batch was cancelled, "
        f"{report.sent_this_run} sent, {after['expired'] - before['expired']} expired now "
        f"({counted(report.cancels, 'cancel')}, {counted(report.requests, 'request')})"
    )
    if texts_report.run_dates:
        print(
            f"  texts: {counted(texts_report.recovered, 'text')} settled after their sender stopped "
            f"(found at Twilio, or not there and requeued), {texts_report.sent_this_run} sent "
            f"({counted(texts_report.cancels, 'second copy', 'second copies')} cancelled, "
            f"{counted(texts_report.requests, 'request')})"
        )
    states = ("accepted", "failed", "expired", "held", "cancelled")
    print("  ledger: " + ", ".join(f"{state} {after[state]}" for state in states))
    unsettled = left["in_flight"] + left["in_doubt"] + left["planned"]
    if unsettled:
        print(
            f"  not settled: {unsettled} ({left['in_flight']} in flight with a sender still at work, "
            f"{left['in_doubt']} in doubt: the provider did not confirm a cancel, "
            f"{left['planned']} planned and unsent)"
        )
    else:
        print("  not settled: none")
    if left["planned_later"]:
        print(f"  {left['planned_later']} planned for more than 72 hours ahead: a later run sends them")
    for line in note.strip().splitlines():
        print(f"  {line}")
    for problem in report.problems + texts_report.problems:
        print(f"  problem: {problem}")
    return 1 if unsettled else 0


def _rows_to_settle(warehouse: WarehouseResource, ledger: SendLedger, day: date) -> tuple[pd.DataFrame, str]:
    """The day's treatment rows of the list whose ledger row is planned or in flight, from the warehouse."""
    empty = pd.DataFrame(columns=INTERVENTION_LIST.names)
    try:
        with warehouse.connect(read_only=True) as con:
            chosen = as_frame(
                con.execute(
                    "select * from interventions.intervention_list where run_date = ? and arm = 'treatment' "
                    "order by send_id",
                    [day],
                )
            )
    except duckdb.Error as err:
        return empty, (
            f"the intervention list could not be read ({type(err).__name__}): requeued messages wait "
            "for the next delivery run of this day"
        )
    states = ledger.states(list(chosen["send_id"]))
    return chosen[[states.get(sid) in TO_SETTLE for sid in chosen["send_id"]]], ""
