"""A sender process for the crash suite: the real sender, client and ledger, killable at a crash point.

    python tests/delivery/crash_driver.py --ledger PATH --sink URL [--messages 30] [--batch-size 10]
        [--from-warehouse RUN_DATE] [--rendered]

Arm a crash point with REENGAGE_CRASH_AT, which only this driver reads and hands to
`crashpoints.arm` (reengage/defs/delivery/crashpoints.py):

    REENGAGE_CRASH_AT=after_post_ok        SIGKILL on the first pass through that point
    REENGAGE_CRASH_AT=between_batches:2    SIGKILL on the second pass
    REENGAGE_CRASH_AT=during_post@0.3      on the first pass, SIGKILL 0.3 s later

Recovery runs with the production defaults: a restart finds the killed sender's process
gone and settles its rows at once, without waiting for any timeout. Messages are streamed
in and planned 12 at a time (--plan-chunk), so requests (10 messages) span planning
chunks and go out while later chunks are still unplanned. On a normal exit it
prints the delivery report as one JSON line: counts and send ids, never an address.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from delivery_helpers import API_KEY, OPTIONS, make_messages, make_rendered_messages

from reengage.defs.delivery import crashpoints
from reengage.defs.delivery.ledger import SendLedger
from reengage.defs.delivery.payloads import OutboundMessage
from reengage.defs.delivery.report import DeliveryReport
from reengage.defs.delivery.sender import RetryPolicy, deliver, make_client
from reengage.tables import as_frame

ENV_VAR = "REENGAGE_CRASH_AT"


def arm_from_environment() -> None:
    """Arm the point REENGAGE_CRASH_AT names (`name[:nth][@delay]`), if any."""
    spec = os.environ.get(ENV_VAR)
    if not spec:
        return
    name, _, delay = spec.partition("@")
    name, _, nth = name.partition(":")
    crashpoints.arm(name.strip(), int(nth or 1), float(delay) if delay else None)


def messages(n: int, rendered: bool = False) -> Iterator[OutboundMessage]:
    """The input as a stream, as the delivery asset hands it over (`rendered`: each message
    rendered for its customer, sharing requests as substitutions, instead of one template)."""
    yield from make_rendered_messages(n) if rendered else make_messages(n)


def day_in_warehouse(run_date: str) -> Iterator[OutboundMessage]:
    """The day's treatment messages from the intervention list in $REENGAGE_HOME, as the asset reads them."""
    import duckdb

    from reengage import settings
    from reengage.defs.delivery.assets import to_messages

    with duckdb.connect(str(settings.warehouse_path()), read_only=True) as con:
        chosen = as_frame(
            con.execute(
                "select * from interventions.intervention_list where run_date = ? and arm = 'treatment' "
                "order by send_id",
                [run_date],
            )
        )
    yield from to_messages(chosen)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ledger", required=True)
    parser.add_argument("--sink", required=True)
    parser.add_argument("--messages", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=10)
    parser.add_argument("--min-lead-seconds", type=float, default=1800)
    parser.add_argument("--timeout", type=float, default=0.5)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--plan-chunk", type=int, default=12, help="messages planned per transaction")
    parser.add_argument("--max-retries", type=int, default=3)
    parser.add_argument("--from-warehouse", default=None, help="a run date: send its intervention list")
    parser.add_argument("--rendered", action="store_true", help="messages rendered per customer")
    args = parser.parse_args()
    arm_from_environment()
    policy = RetryPolicy(
        max_retries=args.max_retries,
        timeout_seconds=args.timeout,
        base_delay=0.01,
        max_delay=0.02,
        jitter=0.01,
    )
    report = deliver(
        SendLedger(args.ledger),
        day_in_warehouse(args.from_warehouse)
        if args.from_warehouse
        else messages(args.messages, args.rendered),
        make_client(API_KEY, args.sink),
        options=OPTIONS,
        policy=policy,
        batch_size=args.batch_size,
        min_lead_seconds=args.min_lead_seconds,
        concurrency=args.concurrency,
        plan_chunk=args.plan_chunk,
    )
    print_report(report)
    return 0


def print_report(report: DeliveryReport) -> None:
    """The report as the suite reads it: one JSON line of counts and send ids, never an address."""
    ids = {"in_doubt_ids": report.in_doubt_send_ids, "expired_ids": report.expired_send_ids}
    print(json.dumps(report.as_metadata() | ids), flush=True)


def run_armed(command: list[str], crash_at: str | None, repo: Path, timeout: float = 60) -> tuple[int, str]:
    """Run a driver `command` from `repo`, armed at `crash_at` (None: unarmed): (exit code, its report
    line on success, else the end of its stderr)."""
    env = {k: v for k, v in os.environ.items() if k != ENV_VAR}
    env["PYTHONPATH"] = os.pathsep.join([str(repo), env.get("PYTHONPATH", "")])
    if crash_at is not None:
        env[ENV_VAR] = crash_at
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout, cwd=repo)
    return done.returncode, done.stdout if done.returncode == 0 else done.stderr[-2000:]


if __name__ == "__main__":
    sys.exit(main())
