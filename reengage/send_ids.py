"""The one id of a message, in Python and in SQL: sha256("customer_id|campaign_id|run_date[|channel]").

The policy computes it in SQL for every chosen row, the ledger in Python for every row it plans;
the demo world reads it back from the sink. Stable across runs and machines, so a rerun of a day
finds the messages it already sent. 32 hex characters (128 bits) keep collisions out of reach.

The channel is part of the id, so one campaign's messages of one day on two channels never share
one, except for email: every ledger row written before channels existed is an email hashed from
(customer, campaign, run date) alone, and a rerun or backfill of such a day must find those rows
again, so email keeps that id. No other channel's id can equal an email id: campaign ids cannot
hold `|` and a run date is fixed-width, so the extra `|channel` never lines up with another key.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from functools import lru_cache

# The channel whose ids omit it: the one every send id was made for before channels existed.
UNNAMED_CHANNEL = "email"


def send_id(
    customer_id: str, campaign_id: str, run_date: str | date | datetime, channel: str = UNNAMED_CHANNEL
) -> str:
    suffix = "" if channel == UNNAMED_CHANNEL else f"|{channel}"
    key = f"{customer_id}|{campaign_id}|{iso_date(run_date)}{suffix}"
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def send_id_sql(customer_id: str, campaign_id: str, run_date: str, channel: str) -> str:
    """The same id as SQL over four column expressions (DuckDB)."""
    suffix = f"case when {channel} = '{UNNAMED_CHANNEL}' then '' else '|' || cast({channel} as varchar) end"
    return (
        f"left(sha256(cast({customer_id} as varchar) || '|' || cast({campaign_id} as varchar)"
        f" || '|' || strftime(cast({run_date} as date), '%Y-%m-%d') || {suffix}), 32)"
    )


def iso_date(value: str | date | datetime) -> str:
    """A run date as YYYY-MM-DD, whichever form it arrives in."""
    if type(value) is str:
        return _iso_date_str(value)
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return date.fromisoformat(str(value)[:10]).isoformat()


@lru_cache(maxsize=4096)
def _iso_date_str(value: str) -> str:
    """Run dates repeat (one or a few per run): parse each distinct string once."""
    return date.fromisoformat(value[:10]).isoformat()
