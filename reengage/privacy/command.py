"""`python -m reengage.cli erase`: carry out erasure requests now, from the command line.

Prints request ids, hashed subjects and counts, never the identifiers given.
"""

from __future__ import annotations

import argparse
import getpass
import sys
import uuid


def add_erase_parser(commands: argparse._SubParsersAction) -> None:
    erase = commands.add_parser(
        "erase",
        help="GDPR/CCPA erasure: remove people from the warehouse, ledger and other stores; forget them",
        description="Erase people everywhere the pipeline keeps them and add them to the forget list "
        "(docs/privacy.md).",
    )
    who = erase.add_mutually_exclusive_group(required=True)
    who.add_argument("--customer-id", help="the CRM customer id of the person")
    who.add_argument("--email", help="an email address of the person (all their ids and addresses follow)")
    who.add_argument(
        "--file",
        help="a CSV of requests, one per line: header with customer_id and/or email, optionally "
        "request_id, requested_by, requested_at; lines already carried out are skipped",
    )
    who.add_argument(
        "--record-pepper",
        action="store_true",
        help="erase nobody; record the fingerprint of REENGAGE_PRIVACY_PEPPER for a forget list made "
        "before fingerprints were kept (only if it is the pepper that list was made with)",
    )
    erase.add_argument("--requested-by", default=None, help="who asked, for the audit (default: cli:<user>)")
    erase.add_argument(
        "--request-id", default=None, help="e.g. a ticket number; never an identifier of the person"
    )


def run_erase(args: argparse.Namespace) -> int:
    import duckdb

    from reengage import settings
    from reengage.privacy.erasure import carry_out
    from reengage.privacy.keys import PepperError
    from reengage.privacy.warehouse_file import RewriteError

    try:
        if args.record_pepper:
            return _record_pepper()
        requests = _requests(args)
        if requests is None:
            return 1
        run = carry_out(
            requests,
            warehouse_path=settings.warehouse_path(),
            warehouse_kind=settings.warehouse_kind(),
            ledger_path=settings.ledger_path(),
            skip_done=bool(args.file),
        )
    except PepperError as err:
        print(f"FAILED: {err}", file=sys.stderr)
        return 1
    except RewriteError as err:
        print(f"FAILED: the requests are carried out in every table, but {err}", file=sys.stderr)
        return 1
    except duckdb.IOException as err:
        print(
            f"FAILED: cannot open the warehouse for writing (is a run in progress?): {err}", file=sys.stderr
        )
        return 1
    for outcome in run.outcomes:
        head = f"request {outcome.request_id} (subject {outcome.subject_hash[:16]}...)"
        if outcome.skipped:
            print(f"{head}: already carried out, skipped")
            continue
        tables = ", ".join(f"{t} {n}" for t, n in sorted(outcome.rows_removed_by_table.items())) or "none"
        print(
            f"{head}: {outcome.rows_removed} row(s) removed or blanked ({tables}); "
            f"{outcome.ledger_rows_cancelled} pending send(s) cancelled; "
            f"{outcome.identifiers_forgotten} identifier(s) on the forget list"
        )
    if run.file_rewrite is not None:
        print(run.file_rewrite.summary)
    return 0


def _requests(args: argparse.Namespace) -> list | None:
    """The requests the arguments name, or None after printing why they cannot be read."""
    from reengage.privacy.requests import make_request, read_request_file

    requested_by = args.requested_by or f"cli:{getpass.getuser()}"
    if args.file:
        requests, problems = read_request_file(args.file, default_requested_by=requested_by)
        if problems:
            # An operator is at hand: nothing is erased until every line reads.
            print(f"FAILED: {len(problems)} request line(s) could not be read:", file=sys.stderr)
            for line in problems:
                print(f"  {line}", file=sys.stderr)
            return None
        return requests
    try:
        return [
            make_request(
                args.customer_id,
                args.email,
                requested_by=requested_by,
                source="cli",
                request_id=args.request_id or uuid.uuid4().hex,
            )
        ]
    except ValueError as err:
        option = "--email" if args.email else "--customer-id"
        print(f"FAILED: {option}: {err}", file=sys.stderr)
        return None


def _record_pepper() -> int:
    """Record the configured pepper's fingerprint for a forget list made before fingerprints were kept."""
    from datetime import UTC, datetime

    from reengage.privacy.forget_list import checked_pepper, listed_keys, record_pepper
    from reengage.privacy.keys import PEPPER_ENV
    from reengage.warehouse import connect, transaction

    with connect() as con, transaction(con):
        if not record_pepper(con, datetime.now(UTC)):
            checked_pepper(con)  # a different pepper raises PepperError: it is never recorded over
            print(f"the fingerprint of {PEPPER_ENV} is already recorded; nothing changed")
            return 0
        keys = listed_keys(con)
    print(f"recorded the fingerprint of {PEPPER_ENV} for the forget list ({keys} key(s))")
    return 0
