"""`python -m reengage.cli resolve --date D`: settle what a crashed or stopped delivery left.

For run date D, with the SendGrid settings of the code location (SENDGRID_API_KEY and
REENGAGE_SENDGRID_HOST, or REENGAGE_LOCAL_SINK_URL naming a local sink):

1. rows in flight whose sender is gone are settled (settling.py): their batch is
   cancelled while SendGrid still allows it and they are requeued, or, too late for
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
from collections.abc import Iterator
from datetime import date

import duckdb

from reengage import settings
from reengage.defs.delivery.assets import mirror_ledger, to_messages
from reengage.defs.delivery.ledger import SendLedger
from reengage.defs.delivery.payloads import OutboundMessage
from reengage.defs.delivery.resource import SendGridResource
from reengage.defs.delivery.windows import SendWindows
from reengage.warehouse import WarehouseResource

TO_SETTLE = frozenset({"planned", "in_flight"})


def add_resolve_parser(commands: argparse._SubParsersAction) -> None:
    resolve = commands.add_parser(
        "resolve",
        help="settle a run date's deliveries a crash or a stop left in flight, in doubt or unsent",
        description="Cancel-then-resend what SendGrid still allows, expire the rest with the reason, "
        "and say what could not be settled (docs/operations.md).",
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
    messages, note = _messages_to_settle(warehouse, ledger, day)
    # Outside Dagster the key cannot be an EnvVar: the resource reads SENDGRID_API_KEY itself.
    sendgrid = SendGridResource(host=settings.sendgrid_host(), local_sink_url=settings.local_sink_url())
    report = sendgrid.deliver(ledger.path, messages, run_date=day.isoformat(), run_id="resolve")
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
        f"({report.cancels} cancel(s), {report.requests} request(s))"
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
    for problem in report.problems:
        print(f"  problem: {problem}")
    return 1 if unsettled else 0


def _messages_to_settle(
    warehouse: WarehouseResource, ledger: SendLedger, day: date
) -> tuple[Iterator[OutboundMessage] | list[OutboundMessage], str]:
    """The day's treatment messages whose ledger row is planned or in flight, from the warehouse."""
    try:
        with warehouse.connect(read_only=True) as con:
            chosen = con.execute(
                "select * from interventions.intervention_list where run_date = ? and arm = 'treatment' "
                "order by send_id",
                [day],
            ).df()
    except duckdb.Error as err:
        return [], (
            f"the intervention list could not be read ({type(err).__name__}): requeued messages wait "
            "for the next delivery run of this day"
        )
    states = ledger.states(list(chosen["send_id"]))
    chosen = chosen[[states.get(sid) in TO_SETTLE for sid in chosen["send_id"]]]
    return to_messages(chosen), ""
