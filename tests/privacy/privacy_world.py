"""A tiny warehouse, ledger and sink holding three people, built through the real loader and stores.

Alice (cus_1) changed her address on day two, used her own phone (anon-a1) and a
shared family tablet (anon-shared, also used by Carol), and has a quarantined
CRM row. Her mobile number is hers alone on day one; on day two the CRM has her
family's line, which Carol's snapshot carries too. Bob (cus_10) has an id that
contains hers as a prefix, so a sloppy substring match would erase him too.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import zipfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from reengage.defs.delivery.ledger import SendLedger, send_id
from reengage.defs.ingest.loader import load_day
from reengage.privacy.erasure import erase
from reengage.privacy.requests import make_request
from reengage_dev.sink.store import Recipient, SinkStore

DAY1 = date(2026, 3, 10)
DAY2 = date(2026, 3, 11)
ALICE = "cus_1"
ALICE_OLD = "alice@example.com"
ALICE_NEW = "alice.new@example.com"
BOB = "cus_10"
BOB_EMAIL = "bob@example.com"
CAROL = "cus_2"
CAROL_EMAIL = "carol@example.com"
ALICE_PHONE = "anon-a1"
SHARED_TABLET = "anon-shared"
ALICE_MOBILE = "+4915112340001"
FAMILY_LINE = "+4930123456789"

CUSTOMER_HEADER = (
    "customer_id,email,first_name,country,timezone,signup_at,plan,lifetime_value,"
    "marketing_consent,consent_updated_at,updated_at,phone,sms_consent"
)
EVENT_HEADER = (
    "event_id,user_id,anonymous_id,event_name,event_ts,page,product_id,category,value,device,channel"
)


def customer(
    cid: str, email: str, name: str, day: date, value: str = "10", consent: str = "true", phone: str = ""
) -> str:
    ts = f"{day}T08:00:00Z"
    sms = "true" if phone else ""
    crm = f"{cid},{email},{name},DE,Europe/Berlin,2026-01-01T00:00:00Z,pro,{value},{consent},{ts},{ts}"
    return f"{crm},{phone},{sms}"


def event(eid: str, user: str, anon: str, day: date, hour: int) -> str:
    return f"{eid},{user},{anon},page_view,{day}T{hour:02d}:00:00Z,/home,,,,mobile,organic"


def write(landing: Path, source: str, day: date, lines: list[str]) -> None:
    header = CUSTOMER_HEADER if source == "customers" else EVENT_HEADER
    path = landing / source / f"{source}_{day}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([header, *lines]) + "\n")


@dataclass
class World:
    home: Path
    landing: Path
    warehouse: Path
    ledger_path: Path
    sink_path: Path
    alice_send_ids: list[str]


def build_world(home: Path) -> World:
    landing = home / "landing"
    write(
        landing,
        "customers",
        DAY1,
        [
            customer(ALICE, ALICE_OLD.upper(), "Alice", DAY1, phone=ALICE_MOBILE),
            customer(BOB, BOB_EMAIL, "Bob", DAY1),
            customer(CAROL, CAROL_EMAIL, "Carol", DAY1, phone=FAMILY_LINE),
            # quarantined (a consent value that is no boolean): the raw text keeps her id, address and number
            customer(ALICE, ALICE_OLD, "Alice", DAY1, consent="maybe", phone=ALICE_MOBILE).replace(
                "08:00", "09:00"
            ),
        ],
    )
    write(landing, "customers", DAY2, [customer(ALICE, ALICE_NEW, "Alice", DAY2, phone=FAMILY_LINE)])
    write(
        landing,
        "events",
        DAY1,
        [
            event("e1", "", ALICE_PHONE, DAY1, 7),  # before she logged in
            event("e2", ALICE, ALICE_PHONE, DAY1, 8),
            event("e3", ALICE, SHARED_TABLET, DAY1, 9),
            event("e4", CAROL, SHARED_TABLET, DAY1, 10),
            event("e5", BOB, "anon-b1", DAY1, 11),
        ],
    )
    warehouse = home / "warehouse.duckdb"
    con = duckdb.connect(str(warehouse))
    try:
        for day in (DAY1, DAY2):
            load_day(con, str(landing), "customers", day)
        load_day(con, str(landing), "events", DAY1)
        # Stand-ins for a dbt mart and a Python stage's table: found by their columns, not by name.
        con.execute("create schema marts")
        con.execute(
            "create table marts.fct_user_features as "
            "select customer_id, email, first_name, marketing_consent, phone from raw.customers "
            "where _partition_date = ? or customer_id <> ?",
            [DAY2, ALICE],
        )
        # load_day migrated the warehouse; the stand-in replaces the declared (empty) list.
        con.execute(
            "create or replace table interventions.intervention_list "
            "(send_id varchar, run_date date, customer_id varchar, email varchar, template_data varchar)"
        )
        for cid, email in ((ALICE, ALICE_NEW), (BOB, BOB_EMAIL)):
            con.execute(
                "insert into interventions.intervention_list values (?, ?, ?, ?, ?)",
                [send_id(cid, "winback", DAY2), DAY2, cid, email, json.dumps({"first_name": cid})],
            )
        # A view holds nothing of its own and must be left alone.
        con.execute("create view marts.v_people as select customer_id, email from marts.fct_user_features")
    finally:
        con.close()

    ledger = SendLedger(home / "send_ledger.sqlite")
    rows = [
        {"customer_id": ALICE, "campaign_id": "winback", "run_date": DAY1},
        {"customer_id": ALICE, "campaign_id": "winback", "run_date": DAY2},
        {"customer_id": BOB, "campaign_id": "winback", "run_date": DAY1},
    ]
    ledger.plan(rows)
    sent = [send_id(ALICE, "winback", DAY1), send_id(BOB, "winback", DAY1)]
    ledger.claim(sent, "batch-1")
    ledger.mark_accepted(sent, "batch-1")

    sink = SinkStore(home / "sink.sqlite")
    sink.record_request(
        "xmsg-1",
        "batch-1",
        [
            Recipient(ALICE_OLD, None, {"send_id": sent[0], "customer_id": ALICE, "campaign_id": "winback"}),
            Recipient(BOB_EMAIL, None, {"send_id": sent[1], "customer_id": BOB, "campaign_id": "winback"}),
        ],
        now=1_700_000_000.0,
    )
    return World(
        home=home,
        landing=landing,
        warehouse=warehouse,
        ledger_path=ledger.path,
        sink_path=sink.path,
        alice_send_ids=[send_id(ALICE, "winback", DAY1), send_id(ALICE, "winback", DAY2)],
    )


def erase_person(world: World, customer_id: str | None = None, email: str | None = None):
    """One request through `erase` on the world's files: tables, ledger and sink, no file rewrite
    (what a run has done when it dies before the rewrite)."""
    request = make_request(customer_id, email, requested_by="privacy-team", source="cli")
    con = duckdb.connect(str(world.warehouse))
    try:
        return erase(con, request, ledger_path=world.ledger_path)
    finally:
        con.close()


def plaintext_hits(con: duckdb.DuckDBPyConnection, values: list[str]) -> list[str]:
    """'schema.table.column' for every text cell of every table or view holding one of `values`.

    Ids match as whole values inside longer text too (JSON, 'customer:<id>' owners), so
    cus_1 is found in '{"id": "cus_1"}' but not in 'cus_10'.
    """
    columns = con.execute(
        "select table_schema, table_name, column_name from information_schema.columns "
        "where table_catalog = current_database() and data_type = 'VARCHAR' "
        "and table_schema not in ('information_schema', 'pg_catalog')"
    ).fetchall()
    hits = []
    for schema, table, column in columns:
        for value in values:
            pattern = rf"(^|[^A-Za-z0-9_.@+-]){re.escape(value.lower())}($|[^A-Za-z0-9_.@+-])"
            (count,) = con.execute(
                f'select count(*) from "{schema}"."{table}" where regexp_matches(lower("{column}"), ?)',
                [pattern],
            ).fetchall()[0]
            if count:
                hits.append(f"{schema}.{table}.{column}")
    return hits


def file_bytes(path: Path) -> bytes:
    """A SQLite file with its WAL: where deleted bytes could linger."""
    data = path.read_bytes()
    wal = path.with_name(path.name + "-wal")
    return data + (wal.read_bytes() if wal.exists() else b"")


def file_contents(path: Path) -> bytes:
    """A file's bytes as stored, and what its gzip or zip container holds (a model file is a zip)."""
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        return data + gzip.decompress(data)
    if data[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return data + b"".join(archive.read(name) for name in archive.namelist())
    return data


def files_holding(roots: list[Path], patterns: dict[str, bytes], skip: tuple[Path, ...] = ()) -> list[str]:
    """'<file>: <name>' for every file under `roots` (outside `skip`) whose bytes match a pattern.

    Patterns are byte regexes, searched in the bytes as stored: the test is what `grep -a` would
    find in the file, deleted-but-not-overwritten blocks, WALs and free pages included.
    """
    # A SQLite -wal or -shm file can vanish between listing and reading when the last connection
    # to its database closes, and a WAL's pages then live in the database file, perhaps already
    # read. So a scan that meets a vanished file starts again, over what is there now.
    for _ in range(5):
        try:
            return _scan(roots, patterns, skip)
        except FileNotFoundError:
            continue
    return _scan(roots, patterns, skip)


def _scan(roots: list[Path], patterns: dict[str, bytes], skip: tuple[Path, ...]) -> list[str]:
    hits = []
    for root in roots:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            if any(path.is_relative_to(s) for s in skip):
                continue
            data = file_contents(path)
            hits += [
                f"{path.relative_to(root)}: {name}" for name, rx in patterns.items() if re.search(rx, data)
            ]
    return hits
