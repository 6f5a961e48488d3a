"""The input contracts as data: the sources, their columns, types and what makes a row bad.

The one registry of sources: ingest, the quality gates, the exports sensor, the schedule, the
Python entry points and the demo world all read `CONTRACTS` (and `SOURCES`, its keys), so a new
source is a contract here (plus its staging model in dbt) and a new column or rule is one line
(docs/architecture.md, Landing files).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Literal

import yaml

from reengage import settings
from reengage.event_catalog import SEED, known_event_names

MissingFile = Literal["required", "no_activity", "no_change"]
ColumnType = Literal[
    "text",
    "timestamp",
    "unix_timestamp",
    "boolean",
    "double",
    "date",
    "email",
    "phone",
    "timezone",
    "url",
    "currency",
]


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
    # The only values the column may hold (after lower-casing), and what a refusal calls them.
    allowed: tuple[str, ...] = ()
    allowed_name: str = ""
    # A value as an export would hold it: shown in the generated contract docs, and loaded by a test.
    example: str = ""
    # Values outside this vocabulary (compared lower-cased, as dbt staging compares them) are loaded
    # and counted per value in the ingest asset's metadata, and `vocabulary_source` (a file of the
    # repository) is where to describe them. Read when used, so an edit needs no restart.
    vocabulary: Callable[[], frozenset[str]] | None = None
    vocabulary_source: str = ""
    # "<source>.<column>" whose values this column names: the day's rows naming none loaded up to
    # that day are loaded, and counted in the quarantine summary (never guessed at or dropped).
    references: str = ""
    # Soft: a bad value is set to null and the row is kept, with a warning row in raw.quarantine
    # (row_kept = true) naming row, column and reason, so one odd number never drops a customer or
    # an event. Only for columns that describe a row; a column that identifies it, decides consent,
    # dates or orders it, or ties it to another row (keys, ids, timestamps, consent) is strict: a bad
    # value there refuses the row, since a guess would decide who is mailed, when, or about what.
    soft: bool = False


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
    # What a day without this export means, unless the settings say otherwise (sources.<source>.
    # missing_file): "required", it is late or lost and the run fails rather than decide on stale
    # data; "no_activity", nothing happened that day (nobody opened a mail, the shop was closed);
    # "no_change", nothing changed (an export that carries only what changed). Either of the last
    # two loads the day as empty: nothing stored is deleted and nothing is guessed.
    missing_file: MissingFile = "required"
    # The volume breaker's rule for this source where it differs from the [volume] defaults
    # (settings.py declares each name and what it means).
    volume: Mapping[str, settings.Value] = field(default_factory=dict, hash=False)
    # Columns of which a row needs at least one value (its first column is named in the refusal).
    at_least_one_of: tuple[str, ...] = ()
    # A source a team may not have at all (SMS events without an SMS provider, a catalog export):
    # until its folder in the landing folder has held a first export the source is absent (every day
    # loads as empty and nothing waits for it, so a team without SMS needs no empty files); from then
    # on `missing_file` applies. An explicit setting (sources.<source>.missing_file) always wins.
    absent_until_first_file: bool = False
    description: str = ""

    def __post_init__(self) -> None:
        # A soft column's value may become null: it cannot be one a row needs to mean anything.
        needed = {self.unique_key, self.latest_by, self.late_column, *self.at_least_one_of}
        wrong = [c.name for c in self.columns if c.soft and (c.required or c.name in needed)]
        if wrong:
            raise ValueError(
                f"{self.source}: required, key or time columns cannot be soft: {', '.join(wrong)}"
            )

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    @property
    def soft_columns(self) -> frozenset[str]:
        return frozenset(c.name for c in self.columns if c.soft)


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

# Twilio's Message statuses, the values a status callback's `MessageStatus` may take (`received`:
# an inbound reply, such as STOP).
SMS_MESSAGE_STATUSES: tuple[str, ...] = (
    "queued",
    "sending",
    "sent",
    "delivered",
    "undelivered",
    "failed",
    "canceled",
    "scheduled",
    "received",
)
# What Twilio's Advanced Opt-Out says an inbound reply was (`OptOutType`).
SMS_OPT_OUT_TYPES: tuple[str, ...] = ("STOP", "START", "HELP")

CUSTOMERS = Contract(
    source="customers",
    columns=(
        Column("customer_id", "text", required=True, example="c-1042"),
        Column("email", "email", required=True, example="Ann.Lee@example.com"),
        Column("first_name", "text", soft=True, example="Ann"),
        Column("country", "text", soft=True, example="DE"),
        Column("timezone", "timezone", required=True, example="Europe/Berlin"),
        Column("signup_at", "timestamp", required=True, example="2026-01-05T09:00:00Z"),
        Column("plan", "text", soft=True, example="free"),
        # What a customer has spent: a negative one (refunds above orders, or an export's sign error)
        # says nothing the segments can rank by, and beyond a billion is no amount; either is set to
        # null with a warning row, the customer kept.
        Column("lifetime_value", "double", min_value=0, max_value=1e9, soft=True, example="249.90"),
        Column("marketing_consent", "boolean", required=True, example="true"),
        Column("consent_updated_at", "timestamp", example="2026-01-05T09:00:00Z"),
        Column("updated_at", "timestamp", required=True, example="2026-03-10T07:00:00+01:00"),
        # The SMS channel's contact and consent, optional: a CRM without them exports none and nobody
        # is texted. A number that is no E.164 number is a soft problem (set to null, the customer
        # kept for email); the SMS consent decides who is texted, so it is strict like email's.
        Column("phone", "phone", soft=True, example="+4915123456789"),
        Column("sms_consent", "boolean", example="true"),
        Column("sms_consent_updated_at", "timestamp", example="2026-01-05T09:00:00Z"),
    ),
    unique_key="customer_id",
    latest_by="updated_at",
    optional_columns=frozenset({"phone", "sms_consent", "sms_consent_updated_at"}),
    # The CRM export carries consent: by default a day without one is late or lost, and nobody is
    # decided on yesterday's consent (a team whose CRM exports only changed customers and skips
    # quiet days sets missing_file = "no_change"). Its size follows the weekday (few changes on a
    # Sunday), so it is compared with the same weekday (the median: one full snapshot in the window
    # is no trend). Up to 4x the usual: the day after a large campaign day the purchases and
    # opt-outs it brought touch many more customers (the demo's first sending day mails 45% of
    # them and doubles the next export), while a broken export (a full snapshot where changes were
    # expected) is tens of times the usual.
    missing_file="required",
    volume={"compare": "same_weekday", "lookback_days": 4, "statistic": "median", "max_ratio": 4.0},
    description="CRM snapshots as exported: one row per customer per snapshot day, bad rows quarantined.",
)

EVENTS = Contract(
    source="events",
    columns=(
        Column("event_id", "text", required=True, example="evt-8f14e45f"),
        Column("user_id", "text", references="customers.customer_id", example="c-1042"),
        Column("anonymous_id", "text", example="anon-7c9e6679"),
        Column(
            "event_name",
            "text",
            required=True,
            vocabulary=known_event_names,
            vocabulary_source=str(SEED.relative_to(settings.DBT_PROJECT_DIR.parent)),
            example="add_to_cart",
        ),
        Column("event_ts", "timestamp", required=True, example="2026-03-10T08:15:00Z"),
        Column("page", "text", soft=True, example="/p/sku-123"),
        Column("product_id", "text", example="sku-123"),
        Column("category", "text", soft=True, example="shoes"),
        Column("value", "double", min_value=-1e7, max_value=1e7, soft=True, example="49.90"),
        Column("device", "text", soft=True, example="mobile"),
        Column("channel", "text", soft=True, example="email"),
    ),
    unique_key="event_id",
    optional_columns=frozenset({"page", "product_id", "category", "value", "device", "channel"}),
    late_column="event_ts",
    at_least_one_of=("user_id", "anonymous_id"),
    missing_file="no_activity",  # a day without events: nobody came (the shop was closed)
    description="Product-analytics events as exported, one partition per UTC day, bad rows quarantined.",
)

EMAIL_EVENTS = Contract(
    source="email_events",
    columns=(
        Column("email", "text", required=True, lowercase=True, example="ann.lee@example.com"),
        Column(
            "event",
            "text",
            required=True,
            lowercase=True,
            allowed=EMAIL_EVENT_TYPES,
            allowed_name="a SendGrid event type",
            example="open",
        ),
        Column("timestamp", "unix_timestamp", required=True, example="1773130500"),
        Column("sg_message_id", "text", example="14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0"),
        Column("sg_event_id", "text", example="sg-event-5e6f7a"),
        Column("send_id", "text", example="3f2a9c0e5b7d41e8a6c2f09b1d4e7a35"),
        Column("campaign_id", "text", example="dormant_win_back"),
        Column("variant", "text", example="control"),
        Column("run_date", "date", example="2026-03-10"),
        Column("reason", "text", soft=True, example="550 5.1.1 mailbox unavailable"),
    ),
    optional_columns=frozenset(
        {"sg_message_id", "sg_event_id", "send_id", "campaign_id", "variant", "run_date", "reason"}
    ),
    # The email events carry unsubscribes, bounces and spam reports: by default a day without them is
    # late or lost, so nobody is mailed before yesterday's opt-outs are known ("no_activity" for a
    # sender small enough to have days without any event).
    missing_file="required",
    description="SendGrid Event Webhook records as exported (custom args flattened), bad rows quarantined.",
)

SMS_EVENTS = Contract(
    source="sms_events",
    columns=(
        Column("EventId", "text", required=True, example="5f0c2d9e8b7a41c3a6e2d1f0b9c8a7e6"),
        Column("Timestamp", "timestamp", required=True, example="2026-03-10T09:15:02Z"),
        Column("MessageSid", "text", required=True, example="SM2f0c2d9e8b7a41c3a6e2d1f0b9c8a7e6"),
        # Both numbers are strict: the recipient's is To on a status and From on a reply, and it is
        # the key of a suppression. A refused reply or failure still suppresses the number when it
        # can be read back (stg_twilio__refused_sms_events). A short code or alphanumeric sender is
        # no E.164 number, so such a sender's rows are refused (docs/architecture.md, Channels).
        Column("To", "phone", example="+4915123456789"),
        Column("From", "phone", example="+14155550100"),
        Column(
            "MessageStatus",
            "text",
            required=True,
            lowercase=True,
            allowed=SMS_MESSAGE_STATUSES,
            allowed_name="a Twilio message status",
            example="delivered",
        ),
        Column("ErrorCode", "text", example="30006"),
        Column(
            "OptOutType",
            "text",
            allowed=SMS_OPT_OUT_TYPES,
            allowed_name="a Twilio opt-out type",
            example="STOP",
        ),
        # An inbound reply's text: read only for the opt-out keywords (Twilio's STOP filtering without
        # Advanced Opt-Out sends no OptOutType); staging keeps whether it was one, never the text.
        Column("Body", "text", soft=True, example="STOP"),
        # The pipeline's own texts carry these in their StatusCallback URL, as emails carry custom args.
        Column("send_id", "text", example="3f2a9c0e5b7d41e8a6c2f09b1d4e7a35|sms"),
        Column("campaign_id", "text", example="cooling_text"),
        Column("variant", "text", example="control"),
        Column("run_date", "date", example="2026-03-10"),
    ),
    optional_columns=frozenset(
        {"To", "From", "ErrorCode", "OptOutType", "Body", "send_id", "campaign_id", "variant", "run_date"}
    ),
    # The SMS events carry STOP replies and permanent failures: like email's, a day without them is
    # late or lost, so nobody is texted before yesterday's opt-outs are known. A team without SMS has
    # no such export at all: the source is absent until its first file lands.
    missing_file="required",
    absent_until_first_file=True,
    description="Twilio status callbacks and inbound replies as exported (StatusCallback query flattened), "
    "bad rows quarantined.",
)

PRODUCTS = Contract(
    source="products",
    columns=(
        Column("product_id", "text", required=True, example="sku-123"),
        Column("name", "text", required=True, example="Trail Running Shoe"),
        Column("category", "text", example="shoes"),
        # What a message shows the customer: a price that is no number or below zero, or a link that
        # is no web address, refuses the row (the product keeps its last good row), never a guess.
        Column("price", "double", required=True, min_value=0, max_value=1e9, example="89.90"),
        Column("currency", "currency", required=True, example="EUR"),
        Column("image_url", "url", example="https://shop.example.com/images/sku-123.jpg"),
        Column("product_url", "url", required=True, example="https://shop.example.com/product/sku-123"),
        Column("in_stock", "boolean", required=True, example="true"),
        Column("updated_at", "timestamp", required=True, example="2026-03-10T06:00:00Z"),
    ),
    unique_key="product_id",
    latest_by="updated_at",
    optional_columns=frozenset({"category", "image_url"}),
    # A catalog export is a full snapshot of the catalog each day or only the products that changed:
    # staging keeps each product's latest row either way, so a product leaves the messages by a row
    # with in_stock false, not by being left out of a snapshot. A day without one is late or lost by
    # default, so no message shows yesterday's price or stock as today's (a team exporting only
    # changes, and nothing on a quiet day, sets missing_file = "no_change"). A team without a
    # catalog export has none at all: the source is absent until its first file lands.
    missing_file="required",
    absent_until_first_file=True,
    description="Product catalog rows as exported (a daily snapshot or the changed products), no personal "
    "data, bad rows quarantined.",
)

CONTRACTS: dict[str, Contract] = {
    c.source: c for c in (CUSTOMERS, EVENTS, EMAIL_EVENTS, SMS_EVENTS, PRODUCTS)
}
SOURCES: tuple[str, ...] = tuple(CONTRACTS)


def missing_file_rule(source: str, landing: str | None = None) -> MissingFile:
    """What a day without `source`'s export means: the settings' rule, else the contract's own (for an
    absent source, `no_activity`: its every day loads as empty). `landing`: the settings' folder."""
    default: MissingFile = "no_activity" if is_absent(source, landing) else CONTRACTS[source].missing_file
    rule = settings.value("sources.missing_file", source=source, source_default=default)
    return rule  # type: ignore[return-value]  # one of settings.MISSING_FILE_RULES, checked on reading


def is_absent(source: str, landing: str | None = None) -> bool:
    """Whether `source` is one a team may not have and its landing folder never held an export of it
    (read when used: the first file to land makes it present). An explicit missing_file setting makes
    no source absent: whoever set it expects the export."""
    if not CONTRACTS[source].absent_until_first_file:
        return False
    if settings.resolve("sources.missing_file", source=source).origin != "default":
        return False
    # Imported here: the landing folder's reader imports this registry.
    from reengage.defs.operations.landed_exports import export_days

    return not export_days(landing or settings.landing_dir(), source)


def required_sources(landing: str | None = None) -> tuple[str, ...]:
    """The sources whose export every day needs (read when used: the settings may change the rule)."""
    return tuple(source for source in SOURCES if missing_file_rule(source, landing) == "required")


def expected_sources(landing: str | None = None) -> tuple[str, ...]:
    """The sources a day may have an export of: every source but the absent ones (nothing waits for
    those, and nothing reports them)."""
    return tuple(source for source in SOURCES if not is_absent(source, landing))


SQL_TYPES: dict[ColumnType, str] = {
    "text": "varchar",
    "email": "varchar",
    "phone": "varchar",
    "timezone": "varchar",
    "url": "varchar",
    "currency": "varchar",
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
