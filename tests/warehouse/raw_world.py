"""A tiny hand-written raw warehouse whose every row exists to prove one meaning.

The run date is RUN_DATE (2026-01-10); "D-n" below is n days before it. Each
customer is built to land in one dormancy stage, flag or segment, and the tests
in this folder assert exactly that. Keep the comments next to the rows they
explain: they are the spec of the expected outputs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb

RUN_DATE = "2026-01-10"

MODELS_DIR = Path(__file__).resolve().parents[2] / "dbt_project" / "models"
# An incremental run's own bookkeeping (which owners it rebuilt, from when): a full build has
# no counterpart to compare it with.
RUN_BOOKKEEPING = {"int_session_rebuilds", "int_events_resessionized"}


def model_relations(*schemas: str) -> list[str]:
    """Every model under those schema folders as `schema.name`, so a new model is compared too."""
    return sorted(
        f"{schema}.{path.stem}"
        for schema in schemas
        for path in (MODELS_DIR / schema).rglob("*.sql")
        if path.stem not in RUN_BOOKKEEPING
    )


RAW_DDL = """
create schema if not exists raw;

create table raw.customers (
    customer_id varchar, email varchar, first_name varchar, country varchar,
    timezone varchar, signup_at timestamptz, plan varchar, lifetime_value double precision,
    marketing_consent boolean, consent_updated_at timestamptz, updated_at timestamptz,
    phone varchar, sms_consent boolean, sms_consent_updated_at timestamptz,
    _source_file varchar, _source_row bigint, _partition_date date, _loaded_at timestamptz
);

create table raw.events (
    event_id varchar, user_id varchar, anonymous_id varchar, event_name varchar,
    event_ts timestamptz, page varchar, product_id varchar, category varchar,
    value double precision, device varchar, channel varchar,
    _source_file varchar, _source_row bigint, _partition_date date, _loaded_at timestamptz
);

create table raw.email_events (
    email varchar, event varchar, "timestamp" timestamptz, sg_message_id varchar,
    sg_event_id varchar, send_id varchar, campaign_id varchar, variant varchar,
    run_date date, reason varchar,
    _source_file varchar, _source_row bigint, _partition_date date, _loaded_at timestamptz
);

create table raw.sms_events (
    "EventId" varchar, "Timestamp" timestamptz, "MessageSid" varchar, "To" varchar, "From" varchar,
    "MessageStatus" varchar, "ErrorCode" varchar, "OptOutType" varchar, "Body" varchar, send_id varchar,
    campaign_id varchar, variant varchar, run_date date,
    _source_file varchar, _source_row bigint, _partition_date date, _loaded_at timestamptz
);

create table raw.products (
    product_id varchar, name varchar, category varchar, price double precision, currency varchar,
    image_url varchar, product_url varchar, in_stock boolean, updated_at timestamptz,
    _source_file varchar, _source_row bigint, _partition_date date, _loaded_at timestamptz
);

create table raw.quarantine (
    source varchar, file varchar, "row" bigint, "column" varchar, reason varchar, raw_record varchar,
    row_kept boolean not null, _partition_date date, _loaded_at timestamptz
);
"""


def _ts(text: str) -> str:
    """A UTC timestamp literal for a timestamptz column."""
    return f"{text}+00:00"


def _customer(
    customer_id: str,
    signup_at: str,
    *,
    updated_at: str = "2025-12-01 08:00:00",
    partition: str = "2025-12-01",
    email: str | None = None,
    timezone: str = "UTC",
    plan: str = "basic",
    lifetime_value: float | None = 100.0,
    marketing_consent: bool = True,
    consent_updated_at: str | None = None,
    phone: str | None = None,
    sms_consent: bool | None = None,
) -> dict[str, Any]:
    return {
        "customer_id": customer_id,
        "email": email if email is not None else f"{customer_id}@example.com",
        "first_name": customer_id.split("_")[-1].title(),
        "country": "FR",
        "timezone": timezone,
        "signup_at": _ts(signup_at),
        "plan": plan,
        "lifetime_value": lifetime_value,
        "marketing_consent": marketing_consent,
        "consent_updated_at": _ts(consent_updated_at or signup_at),
        "updated_at": _ts(updated_at),
        "phone": phone,
        "sms_consent": sms_consent,
        "sms_consent_updated_at": _ts(signup_at) if sms_consent is not None else None,
        "_source_file": f"customers/customers_{partition}.csv",
        "_partition_date": partition,
        "_loaded_at": _ts(f"{partition} 23:00:00"),
    }


CUSTOMERS: list[dict[str, Any]] = [
    # c_active: three snapshots. The D-5 one (plan pro, consent withdrawn)
    # supersedes the first; the one dated after D must be ignored. Email has
    # stray case and spaces.
    _customer("c_active", "2025-06-01 10:00:00", email="  Alice@Example.COM ", timezone="Europe/Paris"),
    _customer(
        "c_active",
        "2025-06-01 10:00:00",
        email="  Alice@Example.COM ",
        timezone="Europe/Paris",
        updated_at="2026-01-05 09:00:00",
        partition="2026-01-05",
        plan="pro",
        marketing_consent=False,
        consent_updated_at="2026-01-05 09:00:00",
    ),
    _customer(
        "c_active",
        "2025-06-01 10:00:00",
        email="alice@example.com",
        timezone="Europe/Paris",
        updated_at="2026-01-12 09:00:00",
        partition="2026-01-12",
        plan="enterprise",
        marketing_consent=True,
        consent_updated_at="2026-01-12 09:00:00",
    ),
    # SMS: c_cooling, c_dormant, c_lapsed, c_sessions and c_fan agreed to texts; c_atrisk said no
    # (its email consent stands), the others never said (null)
    _customer("c_cooling", "2025-05-01 10:00:00", phone="+33612340001", sms_consent=True),
    _customer("c_dormant", "2025-05-01 10:00:00", phone="+33612340002", sms_consent=True),
    # no events at all (one after D)
    _customer("c_lapsed", "2025-10-01 10:00:00", phone="+33612340003", sms_consent=True),
    # c_new's lifetime value was set to null at ingest (raw.quarantine keeps why, row_kept)
    _customer(
        "c_new",
        "2026-01-08 10:00:00",
        updated_at="2026-01-08 10:00:00",
        partition="2026-01-08",
        lifetime_value=None,
    ),
    _customer("c_atrisk", "2025-05-01 10:00:00", phone="+33612340004", sms_consent=False),
    _customer("c_sessions", "2025-05-01 10:00:00", phone="+33612340005", sms_consent=True),
    _customer("c_fan", "2025-05-01 10:00:00", lifetime_value=5000.0, phone="+33612340006", sms_consent=True),
]


def _event(
    event_id: str,
    event_name: str,
    event_ts: str,
    *,
    user_id: str | None = None,
    anonymous_id: str | None = None,
    page: str | None = "/",
    product_id: str | None = None,
    category: str | None = None,
    value: float | None = None,
    partition: str | None = None,
    loaded_at: str | None = None,
) -> dict[str, Any]:
    partition = partition or event_ts[:10]
    return {
        "event_id": event_id,
        "user_id": user_id,
        "anonymous_id": anonymous_id,
        "event_name": event_name,
        "event_ts": _ts(event_ts),
        "page": page,
        "product_id": product_id,
        "category": category,
        "value": value,
        "device": "mobile",
        "channel": "organic",
        "_source_file": f"events/events_{partition}.parquet",
        "_partition_date": partition,
        "_loaded_at": _ts(loaded_at or f"{partition} 23:00:00"),
    }


# for tests that add rows of their own
raw_event = _event

# Rows only incremental bookkeeping can get wrong, added by the tests of daily runs
# (test_incremental.py, tests/spark): an event arriving three days late (beyond the look-back)
# that merges two old sessions, one arriving a day late that extends a session across midnight,
# and a shared device whose anonymous history moves from one customer to another.
LATE_EVENTS = [
    # 10:45 on 01-05, loaded on 01-08 (three days late, beyond the 2-day
    # look-back): c_sessions' 10:00-10:30 and 11:00:01 sessions become one.
    raw_event("late_merge", "page_view", "2026-01-05 10:45:00", user_id="c_sessions", partition="2026-01-08"),
    # 00:30 on 01-07, loaded a day late: extends the 23:50 -> 00:10 session.
    raw_event("late_night", "page_view", "2026-01-07 00:30:00", user_id="c_sessions", partition="2026-01-08"),
    # A shared device: logged in as c_fan on 01-06, so its anonymous events are
    # c_fan's ... until it logs in as c_active on 01-09 and they all move.
    raw_event("shared_1", "login", "2026-01-06 09:00:00", user_id="c_fan", anonymous_id="anon_shared"),
    raw_event(
        "shared_2",
        "product_view",
        "2026-01-06 09:10:00",
        anonymous_id="anon_shared",
        product_id="t1",
        category="toys",
    ),
    raw_event("shared_3", "page_view", "2026-01-07 20:00:00", anonymous_id="anon_shared"),
    raw_event("shared_4", "login", "2026-01-09 12:00:00", user_id="c_active", anonymous_id="anon_shared"),
    # the tracker sends shared_2 again three days later: still one event
    raw_event(
        "shared_2",
        "product_view",
        "2026-01-06 09:10:00",
        anonymous_id="anon_shared",
        product_id="t1",
        category="toys",
        partition="2026-01-09",
    ),
]


def _atrisk_baseline() -> list[dict[str, Any]]:
    # 16 form_submits in D-34..D-7 (2025-12-07 .. 2026-01-03): weekly average 4
    days = [
        "2025-12-07",
        "2025-12-12",
        "2025-12-17",
        "2025-12-22",
        "2025-12-27",
        "2025-12-30",
        "2026-01-01",
        "2026-01-03",
    ]
    return [
        _event(f"ar_{i}_{j}", "form_submit", f"{day} 1{j}:00:00", user_id="c_atrisk", page="/contact")
        for i, day in enumerate(days)
        for j in range(2)
    ]


EVENTS: list[dict[str, Any]] = [
    # c_active: a purchase on D at 09:00 UTC (10:00 in Paris), a refund of part of
    # it (sent with a positive amount) and an event name the catalog does not know.
    _event("act_1", "page_view", "2026-01-10 08:55:00", user_id="c_active", page="/home"),
    _event("act_2", "purchase", "2026-01-10 09:00:00", user_id="c_active", value=40.0, category="books"),
    _event("act_4", "order_refunded", "2026-01-10 09:03:00", user_id="c_active", page=None, value=15.0),
    _event("act_3", "Video_Play ", "2026-01-10 09:05:00", user_id="c_active"),
    # c_cooling: last active action D-7; a passive page view on D-1 does not count.
    _event("cool_1", "form_submit", "2026-01-03 12:00:00", user_id="c_cooling"),
    _event("cool_2", "page_view", "2026-01-09 12:00:00", user_id="c_cooling"),
    # c_dormant: add_to_cart then purchase on D-14.
    _event("dorm_1", "add_to_cart", "2025-12-27 10:00:00", user_id="c_dormant", product_id="p9"),
    _event("dorm_2", "purchase", "2025-12-27 10:30:00", user_id="c_dormant", value=15.0),
    # c_lapsed: a purchase just after the end of D must not count.
    _event("laps_1", "purchase", "2026-01-11 00:00:00", user_id="c_lapsed", value=99.0),
    # c_new: anonymous browsing on D-2 before signing up, login on D-1 from the
    # same device (late stitching), then an add_to_cart never followed by a purchase.
    _event("new_1", "page_view", "2026-01-08 09:00:00", anonymous_id="anon_new", page="/landing"),
    _event(
        "new_2",
        "product_view",
        "2026-01-08 09:05:00",
        anonymous_id="anon_new",
        product_id="p1",
        category="garden",
    ),
    _event("new_3", "login", "2026-01-09 18:00:00", user_id="c_new", anonymous_id="anon_new", page=None),
    _event(
        "new_4",
        "add_to_cart",
        "2026-01-09 18:05:00",
        anonymous_id="anon_new",
        product_id="p1",
        category="garden",
    ),
    # c_atrisk: busy baseline, one active action in the last 7 days.
    *_atrisk_baseline(),
    _event("ar_recent", "form_submit", "2026-01-09 10:00:00", user_id="c_atrisk", page="/contact"),
    # c_sessions: 10:00 -> 10:30 (exactly 30 min, same session) -> 11:00:01 (new session)
    _event("ses_1", "page_view", "2026-01-05 10:00:00", user_id="c_sessions", page="/a"),
    _event("ses_2", "page_view", "2026-01-05 10:30:00", user_id="c_sessions", page="/b"),
    _event("ses_3", "page_view", "2026-01-05 11:00:01", user_id="c_sessions", page="/c"),
    # ... a session across midnight ...
    _event("ses_4", "page_view", "2026-01-06 23:50:00", user_id="c_sessions", page="/night"),
    _event("ses_5", "form_submit", "2026-01-07 00:10:00", user_id="c_sessions", page="/night"),
    # ... and a browse-abandoned session on D-2: 3 product views, no add_to_cart.
    _event(
        "ses_6",
        "product_view",
        "2026-01-08 15:00:00",
        user_id="c_sessions",
        product_id="p2",
        category="books",
    ),
    _event(
        "ses_7",
        "product_view",
        "2026-01-08 15:03:00",
        user_id="c_sessions",
        product_id="p3",
        category="books",
    ),
    _event(
        "ses_8", "product_view", "2026-01-08 15:06:00", user_id="c_sessions", product_id="p4", category="toys"
    ),
    # c_fan: 5 shoe views within 8 minutes, then add_to_cart and a purchase 2 hours later.
    *[
        _event(
            f"fan_{i}",
            "product_view",
            f"2026-01-09 14:0{2 * i}:00",
            user_id="c_fan",
            product_id=f"s{i}",
            category="shoes",
        )
        for i in range(5)
    ],
    _event(
        "fan_cart", "add_to_cart", "2026-01-09 14:09:00", user_id="c_fan", product_id="s4", category="shoes"
    ),
    _event("fan_buy", "purchase", "2026-01-09 16:09:00", user_id="c_fan", value=120.0, category="shoes"),
    # an anonymous device never seen logged in stays anonymous
    _event("ghost_1", "page_view", "2026-01-09 20:00:00", anonymous_id="anon_ghost"),
    _event("ghost_2", "page_view", "2026-01-09 20:10:00", anonymous_id="anon_ghost"),
    # the same event loaded twice (a re-export on the next day): counted once
    _event("dup_1", "page_view", "2026-01-04 12:00:00", user_id="c_cooling", partition="2026-01-04"),
    _event("dup_1", "page_view", "2026-01-04 12:00:00", user_id="c_cooling", partition="2026-01-05"),
]


def _email_event(
    email: str,
    event: str,
    at: str,
    *,
    send_id: str | None = None,
    reason: str | None = None,
    partition: str | None = None,
    sg_event_id: str | None = None,
) -> dict[str, Any]:
    partition = partition or at[:10]
    return {
        "email": email,
        "event": event,
        "timestamp": _ts(at),
        "sg_message_id": f"msg-{send_id}" if send_id else None,
        "sg_event_id": sg_event_id or f"evt-{email}-{event}-{at}",
        "send_id": send_id,
        "campaign_id": "winback" if send_id else None,
        "variant": "a" if send_id else None,
        "run_date": "2026-01-01" if send_id else None,
        "reason": reason,
        "_source_file": f"email_events/email_events_{partition}.jsonl",
        "_partition_date": partition,
        "_loaded_at": _ts(f"{partition} 23:00:00"),
    }


EMAIL_EVENTS: list[dict[str, Any]] = [
    _email_event("alice@example.com", "delivered", "2026-01-02 10:00:00", send_id="s1"),
    _email_event("alice@example.com", "open", "2026-01-02 11:00:00", send_id="s1"),
    # a bounce whose webhook was retried: the same record delivered twice
    _email_event(
        "bounce@example.com",
        "bounce",
        "2026-01-03 10:00:00",
        send_id="s2",
        reason="550 mailbox unavailable",
        sg_event_id="evt-b",
    ),
    _email_event(
        "bounce@example.com",
        "bounce",
        "2026-01-03 10:00:00",
        send_id="s2",
        reason="550 mailbox unavailable",
        sg_event_id="evt-b",
        partition="2026-01-04",
    ),
    # an unsubscribe from the preference centre, without our send id
    _email_event("C_Cooling@example.com ", "group_unsubscribe", "2026-01-04 10:00:00"),
    # c_fan clicks a message on D-1 (the webhook retried the click: exported again on D), then buys
    # at 16:09 (fan_buy): a click and a conversion. c_active's purchase on D comes 8 days after s1
    # reached alice@example.com, beyond the 7-day conversion window: only her open is a response.
    _email_event("c_fan@example.com", "delivered", "2026-01-08 09:00:00", send_id="s4"),
    _email_event(
        "c_fan@example.com", "click", "2026-01-09 14:30:00", send_id="s4", sg_event_id="evt-fan-click"
    ),
    _email_event(
        "c_fan@example.com",
        "click",
        "2026-01-09 14:30:00",
        send_id="s4",
        sg_event_id="evt-fan-click",
        partition="2026-01-10",
    ),
    # after the end of D: not suppressed yet
    _email_event("late@example.com", "spamreport", "2026-01-11 00:00:01", send_id="s3"),
]


def _sms_event(
    event_id: str, at: str, status: str, *, to: str | None, from_: str | None = None, **fields: str
) -> dict[str, Any]:
    """A Twilio status callback or inbound reply as raw.sms_events holds it (ErrorCode, OptOutType, Body,
    send_id, campaign_id, variant, run_date in `fields`)."""
    partition = at[:10]
    return {
        "EventId": event_id,
        "Timestamp": _ts(at),
        "MessageSid": f"SM{event_id}",
        "To": to,
        "From": from_,
        "MessageStatus": status,
        "ErrorCode": fields.get("ErrorCode"),
        "OptOutType": fields.get("OptOutType"),
        "Body": fields.get("Body"),
        "send_id": fields.get("send_id"),
        "campaign_id": fields.get("campaign_id"),
        "variant": fields.get("variant"),
        "run_date": fields.get("run_date"),
        "_source_file": f"sms_events/sms_events_{partition}.jsonl",
        "_partition_date": partition,
        "_loaded_at": _ts(f"{partition} 23:00:00"),
    }


SMS_EVENTS: list[dict[str, Any]] = [
    # c_cooling's text was delivered, then c_cooling replied STOP (retried: one event), then START:
    # suppressed since the STOP all the same
    _sms_event("sms1", "2026-01-05 10:00:00", "delivered", to="+33612340001"),
    _sms_event(
        "sms2",
        "2026-01-05 11:00:00",
        "received",
        to="+14155550100",
        from_="+33612340001",
        OptOutType="STOP",
        Body="STOP",
    ),
    _sms_event(
        "sms2",
        "2026-01-05 11:00:00",
        "received",
        to="+14155550100",
        from_="+33612340001",
        OptOutType="STOP",
        Body="STOP",
    ),
    _sms_event(
        "sms3",
        "2026-01-06 11:00:00",
        "received",
        to="+14155550100",
        from_="+33612340001",
        OptOutType="START",
        Body="start",
    ),
    # c_sessions' text failed for a landline (30006): never texted again; c_fan's for a handset out of
    # reach (30003): temporary, not suppressed
    _sms_event("sms4", "2026-01-07 10:00:00", "undelivered", to="+33612340005", ErrorCode="30006"),
    _sms_event("sms5", "2026-01-07 10:00:00", "undelivered", to="+33612340006", ErrorCode="30003"),
    # a STOP after the end of D: not yet
    _sms_event(
        "sms6", "2026-01-11 09:00:00", "received", to="+14155550100", from_="+33612340002", Body="stop"
    ),
]


def _refused(
    source: str,
    partition: str,
    row: int,
    column: str | None,
    reason: str,
    record: dict[str, Any],
    row_kept: bool = False,
) -> dict[str, Any]:
    """A row ingest refused, as raw.quarantine keeps it (the record as JSON text); with `row_kept`,
    a value ingest set to null in a row it loaded."""
    extension = {"customers": "csv", "events": "parquet", "email_events": "jsonl", "sms_events": "jsonl"}[
        source
    ]
    return {
        "source": source,
        "file": f"{source}/{source}_{partition}.{extension}",
        "row": row,
        "column": column,
        "reason": reason,
        "raw_record": json.dumps(record),
        "row_kept": row_kept,
        "_partition_date": partition,
        "_loaded_at": _ts(f"{partition} 23:00:00"),
    }


QUARANTINE: list[dict[str, Any]] = [
    # c_cooling withdraws consent on D-1 in a row refused for its consent_updated_at:
    # its 2025-12-01 snapshot (consent true) no longer lets it be mailed.
    _refused(
        "customers",
        "2026-01-09",
        1,
        "consent_updated_at",
        "not a timestamp (expected ISO-8601 with offset)",
        {
            "customer_id": "c_cooling",
            "marketing_consent": " Opted_Out ",
            "consent_updated_at": "2026-01-09T25:00:00Z",
        },
    ),
    # c_dormant's newest row (D-1) was refused for its time zone: unverified.
    _refused(
        "customers",
        "2026-01-09",
        2,
        "timezone",
        "not a known IANA timezone",
        {"customer_id": "c_dormant", "marketing_consent": "true", "timezone": "Mars/Olympus_Mons"},
    ),
    # c_sessions' refused row predates its snapshot: the snapshot stands.
    _refused(
        "customers",
        "2025-11-30",
        1,
        "lifetime_value",
        "below the allowed minimum 0",
        {"customer_id": "c_sessions", "marketing_consent": "false", "lifetime_value": "-5"},
    ),
    # c_fan's row superseded by a later row of the same file refused nothing.
    _refused(
        "customers",
        "2026-01-09",
        3,
        "customer_id",
        "superseded by a later updated_at for the same customer_id in this file (row 4)",
        {"customer_id": "c_fan", "marketing_consent": "false"},
    ),
    # c_atrisk's refused withdrawal lands after D: not yet.
    _refused(
        "customers",
        "2026-01-11",
        1,
        "marketing_consent",
        "not a boolean (true/false)",
        {"customer_id": "c_atrisk", "marketing_consent": "unsubscribed"},
    ),
    # an unsubscribe refused for its timestamp still suppresses the address, from its file's day
    _refused(
        "email_events",
        "2026-01-08",
        1,
        "timestamp",
        "not a Unix timestamp in seconds",
        {"email": " Refused.Unsub@Example.com", "event": "unsubscribe", "timestamp": "yesterday"},
    ),
    # c_new's loaded snapshot (row 7 of its file) with its lifetime value set to null: a value, not
    # the row, was refused, so it holds nobody back
    _refused(
        "customers",
        "2026-01-08",
        7,
        "lifetime_value",
        "above the allowed maximum 1e+09",
        {
            "customer_id": "c_new",
            "marketing_consent": "true",
            "lifetime_value": "1e12",
            "updated_at": "2026-01-08T10:00:00Z",
        },
        row_kept=True,
    ),
    # c_lapsed withdraws SMS consent on D-1 in a row refused for its time zone: never texted again,
    # and its email is held back as unverified (the row withdrew nothing there)
    _refused(
        "customers",
        "2026-01-09",
        5,
        "timezone",
        "not a known IANA timezone",
        {
            "customer_id": "c_lapsed",
            "marketing_consent": "true",
            "sms_consent": "Opted-Out",
            "timezone": "Mars/Olympus_Mons",
        },
    ),
    # c_dormant's STOP was refused for its number, written with spaces: read back, it still suppresses
    _refused(
        "sms_events",
        "2026-01-08",
        1,
        "From",
        "not an E.164 phone number",
        {
            "EventId": "sms9",
            "Timestamp": "2026-01-08T09:30:00Z",
            "MessageStatus": "received",
            "From": "+33 6 12 34 00 02",
            "To": "+14155550100",
            "OptOutType": "STOP",
        },
    ),
    # another source's refused rows are not the CRM's
    _refused(
        "events",
        "2026-01-09",
        1,
        "event_ts",
        "not a timestamp (expected ISO-8601 with offset)",
        {"event_id": "x1", "user_id": "c_lapsed", "event_ts": "never"},
    ),
]


def _product(
    product_id: str,
    category: str,
    price: float,
    *,
    in_stock: bool = True,
    updated_at: str = "2025-12-01 06:00:00",
    partition: str = "2025-12-01",
) -> dict[str, Any]:
    """A catalog row as raw.products holds it (a daily snapshot repeats it with the same updated_at)."""
    return {
        "product_id": product_id,
        "name": f"Product {product_id.upper()}",
        "category": category,
        "price": price,
        "currency": "EUR",
        "image_url": f"https://shop.example.com/images/{product_id}.jpg",
        "product_url": f"https://shop.example.com/product/{product_id}",
        "in_stock": in_stock,
        "updated_at": _ts(updated_at),
        "_source_file": f"products/products_{partition}.csv",
        "_partition_date": partition,
        "_loaded_at": _ts(f"{partition} 23:00:00"),
    }


PRODUCTS: list[dict[str, Any]] = [
    # p1 (c_new's cart): its price changed on D-2; the row of D+1 is not the product yet on D
    _product("p1", "garden", 30.0),
    _product("p1", "garden", 24.5, updated_at="2026-01-08 06:00:00", partition="2026-01-08"),
    _product("p1", "garden", 99.0, updated_at="2026-01-11 06:00:00", partition="2026-01-11"),
    _product("p2", "books", 12.0),
    # the same unchanged row in a later snapshot: one product, from its latest export
    _product("p2", "books", 12.0, partition="2026-01-09"),
    _product("p3", "books", 8.0),
    _product("p4", "toys", 19.99, in_stock=False),
    *[_product(f"s{i}", "shoes", 60.0 + i) for i in range(5)],
    _product("p9", "home", 15.0),
]


def _number_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    numbered = []
    for position, row in enumerate(rows, start=1):
        numbered.append({**row, "_source_row": position})
    return numbered


def raw_tables(extra_events: list[dict[str, Any]] | None = None) -> dict[str, list[dict[str, Any]]]:
    """Every raw row by table, `_source_row` numbered (extra events are appended)."""
    return {
        "customers": _number_rows(CUSTOMERS),
        "events": _number_rows([*EVENTS, *(extra_events or [])]),
        "email_events": _number_rows(EMAIL_EVENTS),
        "sms_events": _number_rows(SMS_EVENTS),
        "products": _number_rows(PRODUCTS),
        "quarantine": QUARANTINE,
    }


def insert_sql(table: str, columns: list[str], placeholder: str = "?") -> str:
    quoted = ", ".join(f'"{c}"' for c in columns)
    return f"insert into raw.{table} ({quoted}) values ({', '.join(placeholder for _ in columns)})"


def insert_partitions(
    con: Any,
    tables: dict[str, list[dict[str, Any]]],
    *,
    first: str | None = None,
    last: str | None = None,
    placeholder: str = "?",
) -> int:
    """Insert the rows whose `_partition_date` lies in [first, last] (a landing day's load).

    Works with any DB-API connection (DuckDB `?`, psycopg2 `%s`). Returns the rows inserted.
    """
    inserted = 0
    for table, rows in tables.items():
        chosen = [
            r
            for r in rows
            if (first is None or r["_partition_date"] >= first)
            and (last is None or r["_partition_date"] <= last)
        ]
        if not chosen:
            continue
        columns = list(chosen[0])
        con.cursor().executemany(
            insert_sql(table, columns, placeholder), [[row[c] for c in columns] for row in chosen]
        )
        inserted += len(chosen)
    return inserted


def create_raw_warehouse(
    path: Path, *, last_partition: str | None = None, extra_events: list[dict[str, Any]] | None = None
) -> None:
    """Create the raw schema and tables at `path` and load the rows above (up to a partition)."""
    con = duckdb.connect(str(path))
    try:
        con.execute("set timezone = 'UTC'")
        con.execute(RAW_DDL)
        insert_partitions(con, raw_tables(extra_events), last=last_partition)
    finally:
        con.close()
