"""A sender process for the SMS crash suite: the real SMS sender, twilio client and ledger, killable at a
crash point (armed as in crash_driver.py, by REENGAGE_CRASH_AT).

    python tests/delivery/sms_crash_driver.py --ledger PATH --sink URL [--messages 12] [--concurrency 1]

Texts are streamed in and planned 5 at a time, so a crash can fall between planning chunks. On a
normal exit it prints the delivery report as one JSON line: counts and send ids, never a number.
"""

from __future__ import annotations

import argparse
import sys

from crash_driver import arm_from_environment, print_report
from sms_helpers import make_texts, send_texts

from reengage.defs.delivery.ledger import SendLedger


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ledger", required=True)
    parser.add_argument("--sink", required=True)
    parser.add_argument("--messages", type=int, default=12)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--plan-chunk", type=int, default=5)
    args = parser.parse_args()
    arm_from_environment()
    report = send_texts(
        SendLedger(args.ledger),
        iter(make_texts(args.messages)),
        args.sink,
        concurrency=args.concurrency,
        plan_chunk=args.plan_chunk,
    )
    print_report(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
