"""Raw tables as docs/architecture.md fixes them, and rows every suite accepts, for tests to spoil."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

import duckdb

DAY = date(2024, 5, 1)

LINEAGE = {
    "_source_file": "varchar",
    "_source_row": "bigint",
    "_partition_date": "date",
    "_loaded_at": "timestamptz",
}

# Column names and types as docs/architecture.md fixes them for the raw schema.
RAW_TABLES: dict[str, dict[str, str]] = {
    "customers": {
        "customer_id": "varchar",
        "email": "varchar",
        "first_name": "varchar",
        "country": "varchar",
        "timezone": "varchar",
        "signup_at": "timestamptz",
        "plan": "varchar",
        "lifetime_value": "double",
        "marketing_consent": "boolean",
        "consent_updated_at": "timestamptz",
        "updated_at": "timestamptz",
        **LINEAGE,
    },
    "events": {
        "event_id": "varchar",
        "user_id": "varchar",
        "anonymous_id": "varchar",
        "event_name": "varchar",
        "event_ts": "timestamptz",
        "page": "varchar",
        "product_id": "varchar",
        "category": "varchar",
        "value": "double",
        "device": "varchar",
        "channel": "varchar",
        **LINEAGE,
    },
    "email_events": {
        "email": "varchar",
        "event": "varchar",
        "timestamp": "timestamptz",
        "sg_message_id": "varchar",
        "sg_event_id": "varchar",
        "send_id": "varchar",
        "campaign_id": "varchar",
        "variant": "varchar",
        "run_date": "date",
        "reason": "varchar",
        **LINEAGE,
    },
}


def good_row(table: str, n: int, day: date = DAY, **overrides: Any) -> dict[str, Any]:
    """A row every suite accepts; tests spoil one field at a time through `overrides`."""
    ts = f"{day.isoformat()} {8 + n % 12:02d}:{n % 60:02d}:00+00"
    rows: dict[str, dict[str, Any]] = {
        "customers": {
            "customer_id": f"c{n}",
            "email": f"customer{n}@example.com",
            "first_name": f"Name{n}",
            "country": "DE",
            "timezone": "Europe/Berlin",
            "signup_at": "2024-01-15 09:00:00+00",
            "plan": "pro",
            "lifetime_value": 120.5,
            "marketing_consent": True,
            "consent_updated_at": "2024-01-15 09:00:00+00",
            "updated_at": ts,
        },
        "events": {
            "event_id": f"ev-{day.isoformat()}-{n}",
            "user_id": f"c{n}",
            "anonymous_id": f"anon-{n}",
            "event_name": "page_view" if n % 2 else "add_to_cart",
            "event_ts": ts,
            "page": "/home",
            "device": "mobile",
            "channel": "organic",
        },
        "email_events": {
            "email": f"customer{n}@example.com",
            "event": "delivered" if n % 2 else "open",
            "timestamp": ts,
            "sg_message_id": f"msg{n}",
            "sg_event_id": f"sge{day.isoformat()}{n}",
            "send_id": f"{n:032x}",
            "campaign_id": "winback",
            "variant": "a",
            "run_date": day.isoformat(),
        },
    }
    row = {**rows[table], "_source_file": f"{table}_{day}.csv", "_source_row": n + 1, "_partition_date": day}
    row["_loaded_at"] = f"{day.isoformat()} 23:00:00+00"
    row.update(overrides)
    return row


def create_raw_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists raw")
    for table, columns in RAW_TABLES.items():
        ddl = ", ".join(f'"{name}" {kind}' for name, kind in columns.items())
        con.execute(f"create table if not exists raw.{table} ({ddl})")


def insert_rows(con: duckdb.DuckDBPyConnection, table: str, rows: Iterable[Mapping[str, Any]]) -> None:
    columns = list(RAW_TABLES[table])
    placeholders = ", ".join("?" for _ in columns)
    names = ", ".join(f'"{c}"' for c in columns)
    con.executemany(
        f"insert into raw.{table} ({names}) values ({placeholders})",
        [[row.get(c) for c in columns] for row in rows],
    )
