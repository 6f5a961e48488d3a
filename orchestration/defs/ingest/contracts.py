"""The input contracts as data: the sources, their columns, types and what makes a row bad.

The one registry of sources: ingest, the quality gates, the exports sensor, the schedule, the
Python entry points and the demo world all read `CONTRACTS` (and `SOURCES`, its keys), so a new
source is a contract here (plus its staging model in dbt) and a new column or rule is one line
(docs/architecture.md, Landing files).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Literal

import yaml

from orchestration import settings

ColumnType = Literal["text", "timestamp", "unix_timestamp", "boolean", "double", "date", "email", "timezone"]


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    required: bool = False  # a null or empty value quarantines the row
    min_value: float | None = None
    max_value: float | None = None
    # Lower-cased at ingest where case carries no meaning (a webhook's event type and address), so
    # `Unsubscribe` or `Bob@Example.COM` is read, not refused, and matches what it means.
    lowercase: bool = False


@dataclass(frozen=True)
class Contract:
    source: str
    columns: tuple[Column, ...]
    # Rows sharing a unique_key within one file: with `latest_by`, the row with the latest value wins
    # and the others are quarantined as superseded (equal latest rows with different values are all
    # quarantined: nobody can tell which is right); without it the first row wins.
    unique_key: str | None = None
    latest_by: str | None = None
    optional_columns: frozenset[str] = field(default_factory=frozenset)  # may be absent from a file
    # A timestamp dated more than the warehouse's look-back (warehouse_lookback_days) before its
    # file's day is quarantined: no incremental dbt run would read it again.
    late_column: str | None = None
    # A day without this export means it is late or lost: the run fails rather than decide on
    # stale data. Sources that may be quiet on a day (nobody opened a mail) are not required.
    required_daily: bool = True
    description: str = ""

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]


CUSTOMERS = Contract(
    source="customers",
    columns=(
        Column("customer_id", "text", required=True),
        Column("email", "email", required=True),
        Column("first_name", "text"),
        Column("country", "text"),
        Column("timezone", "timezone", required=True),
        Column("signup_at", "timestamp", required=True),
        Column("plan", "text"),
        Column("lifetime_value", "double", min_value=0, max_value=1e9),
        Column("marketing_consent", "boolean", required=True),
        Column("consent_updated_at", "timestamp"),
        Column("updated_at", "timestamp", required=True),
    ),
    unique_key="customer_id",
    latest_by="updated_at",
    description="CRM snapshots as exported: one row per customer per snapshot day, bad rows quarantined.",
)

EVENTS = Contract(
    source="events",
    columns=(
        Column("event_id", "text", required=True),
        Column("user_id", "text"),
        Column("anonymous_id", "text"),
        Column("event_name", "text", required=True),
        Column("event_ts", "timestamp", required=True),
        Column("page", "text"),
        Column("product_id", "text"),
        Column("category", "text"),
        Column("value", "double", min_value=-1e7, max_value=1e7),
        Column("device", "text"),
        Column("channel", "text"),
    ),
    unique_key="event_id",
    optional_columns=frozenset({"page", "product_id", "category", "value", "device", "channel"}),
    late_column="event_ts",
    description="Product-analytics events as exported, one partition per UTC day, bad rows quarantined.",
)

EMAIL_EVENTS = Contract(
    source="email_events",
    columns=(
        Column("email", "text", required=True, lowercase=True),
        Column("event", "text", required=True, lowercase=True),
        Column("timestamp", "unix_timestamp", required=True),
        Column("sg_message_id", "text"),
        Column("sg_event_id", "text"),
        Column("send_id", "text"),
        Column("campaign_id", "text"),
        Column("variant", "text"),
        Column("run_date", "date"),
        Column("reason", "text"),
    ),
    optional_columns=frozenset(
        {"sg_message_id", "sg_event_id", "send_id", "campaign_id", "variant", "run_date", "reason"}
    ),
    required_daily=False,
    description="SendGrid Event Webhook records as exported (custom args flattened), bad rows quarantined.",
)

CONTRACTS: dict[str, Contract] = {c.source: c for c in (CUSTOMERS, EVENTS, EMAIL_EVENTS)}
SOURCES: tuple[str, ...] = tuple(CONTRACTS)
REQUIRED_SOURCES: tuple[str, ...] = tuple(s for s, c in CONTRACTS.items() if c.required_daily)

# SendGrid Event Webhook event types, the values an email event's `event` may take (in the order
# SendGrid's docs list them; the demo world encodes them by this position).
EMAIL_EVENT_TYPES: tuple[str, ...] = (
    "processed",
    "delivered",
    "open",
    "click",
    "bounce",
    "dropped",
    "deferred",
    "spamreport",
    "unsubscribe",
    "group_unsubscribe",
)

SQL_TYPES: dict[ColumnType, str] = {
    "text": "varchar",
    "email": "varchar",
    "timezone": "varchar",
    "timestamp": "timestamptz",
    "unix_timestamp": "timestamptz",
    "boolean": "boolean",
    "double": "double",
    "date": "date",
}


@cache
def warehouse_lookback_days() -> int:
    """How many days before its run date an incremental dbt run re-reads events: dbt's var
    `lookback_days`, read from dbt_project.yml (its one definition) rather than copied here."""
    project = yaml.safe_load((settings.DBT_PROJECT_DIR / "dbt_project.yml").read_text())
    days = project["vars"]["lookback_days"]
    if not isinstance(days, int) or isinstance(days, bool) or days < 0:
        raise ValueError(
            f"dbt_project.yml: var lookback_days must be a whole number of days >= 0, got {days!r}"
        )
    return days
