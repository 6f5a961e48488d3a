"""Hand-built warehouses for the policy tests: features, suppressions, scores and send history."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, datetime
from typing import Any

import duckdb
import pandas as pd
import pytest

from reengage.defs.interventions.campaigns import (
    Audience,
    Campaign,
    Targeting,
    Template,
    Trigger,
    Variant,
)
from reengage.defs.interventions.schema import FEATURE_COLUMNS
from reengage.defs.warehouse import manifest
from reengage.schema.migrations import migrate

DEFAULT_USER: dict[str, Any] = {
    "email": None,  # filled from customer_id
    "first_name": "Ada",
    "country": "US",
    "timezone": "UTC",
    "plan": "free",
    "lifetime_value": 50.0,
    "marketing_consent": True,
    "consent_status": None,  # follows marketing_consent unless given (see user())
    # No number and no SMS consent, as int_customer_consent decides for a CRM that does not say.
    "phone": None,
    "sms_consent": None,
    "sms_consent_status": "withdrawn",
    "signup_at": datetime(2024, 1, 1),
    "tenure_days": 400,
    "days_since_last_active": 1,
    "dormancy_stage": "active",
    "is_at_risk": False,
    "active_actions_7d": 3,
    "active_actions_prior_28d": 12,
    "activity_trend": 1.0,
    "sessions_28d": 4,
    "events_28d": 40,
    "purchases_90d": 1,
    "revenue_90d": 20.0,
    "recency_score": 3,
    "frequency_score": 3,
    "monetary_score": 3,
    "favourite_category": "books",
    "preferred_local_hour": None,
    "cart_abandoned": False,
    "browse_abandoned": False,
    "category_enthusiast": False,
    "enthusiast_category": None,
    "is_new_user": False,
    "segment": "engaged",
    "is_high_value": False,
}


def user(customer_id: str, **overrides: Any) -> dict[str, Any]:
    row = {"customer_id": customer_id, **DEFAULT_USER, **overrides}
    if "email" not in overrides:
        row["email"] = f"{customer_id}@example.com"
    if "consent_status" not in overrides:
        # As int_customer_consent decides it when no CRM row was refused.
        row["consent_status"] = "granted" if row["marketing_consent"] is True else "withdrawn"
    return row


def write_features(
    con: duckdb.DuckDBPyConnection, rows: Sequence[dict[str, Any]], as_of: date | Sequence[date]
) -> None:
    """Replace marts.fct_user_features with `rows` as of `as_of`, typed as the mart's dbt contract says.

    Several dates write the rows once per date: a features table that keeps history, which the
    policy reads as of each run date (tests that decide several days in a row).
    """
    days = [as_of] if isinstance(as_of, date) else list(as_of)
    derived = {"customer_value": lambda row: row["lifetime_value"] + row["revenue_90d"]}
    frame = pd.DataFrame(
        [
            [
                day if name == "as_of_date" else row[name] if name in row else derived[name](row)
                for name in FEATURE_COLUMNS
            ]
            for day in days
            for row in rows
        ],
        columns=list(FEATURE_COLUMNS),
    )
    con.execute("create schema if not exists marts")
    columns = ", ".join(f'"{name}" {kind}' for name, kind in FEATURE_COLUMNS.items())
    con.execute(f"create or replace table marts.fct_user_features ({columns})")
    con.register("features_frame", frame)
    con.execute("insert into marts.fct_user_features select * from features_frame")
    con.unregister("features_frame")


def write_mart(
    con: duckdb.DuckDBPyConnection, model: str, rows: Sequence[dict[str, Any]] = (), schema: str = "marts"
) -> None:
    """Replace <schema>.<model> with `rows`, typed as its enforced dbt contract says (missing: null)."""
    columns = manifest.contract_columns(model)
    con.execute(f"create schema if not exists {schema}")
    con.execute(
        f"create or replace table {schema}.{model} ({', '.join(f'{c} {t}' for c, t in columns.items())})"
    )
    for row in rows:
        names = ", ".join(row)
        con.execute(
            f"insert into {schema}.{model} ({names}) values ({', '.join('?' for _ in row)})",
            list(row.values()),
        )


def product_row(customer_id: str, rank: int, day: date, rank_column: str) -> dict[str, Any]:
    """One product of a person's cart or recent views, as the context marts give it."""
    product = f"{customer_id}-p{rank}"
    return {
        "customer_id": customer_id,
        "as_of_date": day,
        "product_id": product,
        rank_column: rank,
        "product_name": f"Product {rank} of {customer_id}",
        "category": "books",
        "price": 10.0 + rank,
        "currency": "EUR",
        "image_url": f"https://shop.example.com/i/{product}.jpg",
        "product_url": f"https://shop.example.com/p/{product}",
        "in_stock": True,
    }


def write_context_marts(
    con: duckdb.DuckDBPyConnection,
    as_of: date | Sequence[date],
    carts: dict[str, int] | None = None,
    views: dict[str, int] | None = None,
) -> None:
    """The context marts dbt builds every run, as of each date: `carts` and `views` give people that
    many items; nobody has claimable social proof, progress or recommendations, and the catalog is
    empty."""
    days = [as_of] if isinstance(as_of, date) else list(as_of)
    cart_rows = [
        {**product_row(c, r, day, "cart_rank"), "cart_item_id": f"{c}|{r}", "quantity": 1,
         "last_added_at": datetime(2025, 1, 1)}
        for day in days for c, n in (carts or {}).items() for r in range(1, n + 1)
    ]  # fmt: skip
    view_rows = [
        {**product_row(c, r, day, "view_rank"), "recent_view_id": f"{c}|{r}", "view_count": 1,
         "last_viewed_at": datetime(2025, 1, 1)}
        for day in days for c, n in (views or {}).items() for r in range(1, n + 1)
    ]  # fmt: skip
    write_mart(con, "fct_user_cart_items", cart_rows)
    write_mart(con, "fct_user_recent_views", view_rows)
    write_mart(con, "fct_product_social_proof")
    write_mart(con, "fct_user_progress")
    write_mart(con, "fct_user_recommendations")
    write_mart(con, "stg_catalog__products", schema="staging")  # the generic fallback's popular products


def write_suppressions(con: duckdb.DuckDBPyConnection, rows: Sequence[tuple[str, str]] = ()) -> None:
    con.execute("create schema if not exists marts")
    con.execute(
        "create or replace table marts.fct_email_suppressions"
        " (email varchar, suppression_reason varchar, first_suppressed_at timestamptz)"
    )
    for email, reason in rows:
        con.execute(
            "insert into marts.fct_email_suppressions values (?, ?, timestamptz '2024-06-01 00:00:00+00')",
            [email, reason],
        )


def write_sms_suppressions(con: duckdb.DuckDBPyConnection, rows: Sequence[tuple[str, str]] = ()) -> None:
    """Replace marts.fct_sms_suppressions with (phone, reason) rows (dbt builds it every run)."""
    con.execute("create schema if not exists marts")
    con.execute(
        "create or replace table marts.fct_sms_suppressions"
        " (phone varchar, suppression_reason varchar, first_suppressed_at timestamp)"
    )
    for phone, reason in rows:
        con.execute(
            "insert into marts.fct_sms_suppressions values (?, ?, timestamp '2025-03-01 10:00:00')",
            [phone, reason],
        )


def write_responses(con: duckdb.DuckDBPyConnection, rows: Sequence[tuple[str, str, str]] = ()) -> None:
    """Replace marts.fct_user_responses with (customer_id, campaign_id, responded_at UTC) rows.

    Empty by default: dbt builds the mart in every run, empty when nobody responded, and the
    policy refuses to decide without it.
    """
    con.execute("create schema if not exists marts")
    con.execute(
        "create or replace table marts.fct_user_responses (response_id varchar, customer_id varchar,"
        " send_id varchar, campaign_id varchar, variant varchar, message_run_date date,"
        " response_type varchar, responded_at timestamp, reached_at timestamp, as_of_date date)"
    )
    for n, (customer, campaign, at) in enumerate(rows):
        con.execute(
            "insert into marts.fct_user_responses (response_id, customer_id, send_id, campaign_id,"
            " response_type, responded_at) values (?, ?, ?, ?, 'click', cast(? as timestamp))",
            [f"r{n}", customer, f"s{n}", campaign, at],
        )


def write_scores(con: duckdb.DuckDBPyConnection, run_date: date, scores: dict[str, float]) -> None:
    con.execute("create schema if not exists scoring")
    con.execute(
        "create table if not exists scoring.churn_scores"
        " (customer_id varchar, run_date date, churn_probability double, model_version varchar)"
    )
    con.executemany(
        "insert into scoring.churn_scores values (?, ?, ?, 'v1')",
        [[customer, run_date, p] for customer, p in scores.items()],
    )


def write_uplift_scores(
    con: duckdb.DuckDBPyConnection, run_date: date, campaign_id: str, scores: dict[str, float]
) -> None:
    """An uplift model's predictions for one campaign on `run_date`, as the scoring stage writes them."""
    migrate(con)
    con.executemany(
        "insert into scoring.uplift_scores"
        " (customer_id, campaign_id, run_date, predicted_uplift, model_version)"
        " values (?, ?, ?, ?, 'uplift-test')",
        [[customer, campaign_id, run_date, uplift] for customer, uplift in scores.items()],
    )


def record_sends(con: duckdb.DuckDBPyConnection, run_date: date, state: str = "accepted") -> int:
    """Copy the run date's treatment rows into delivery.campaign_sends, as delivery would."""
    con.execute("create schema if not exists delivery")
    con.execute(
        "create table if not exists delivery.campaign_sends (send_id varchar, run_date date,"
        " customer_id varchar, campaign_id varchar, channel varchar, variant varchar, state varchar,"
        " accepted_at timestamptz)"
    )
    con.execute(
        "insert into delivery.campaign_sends"
        " (send_id, run_date, customer_id, campaign_id, channel, variant, state, accepted_at)"
        " select send_id, run_date, customer_id, campaign_id, channel, variant, ?, scheduled_send_at_utc"
        " from interventions.intervention_list where run_date = ? and arm = 'treatment'",
        [state, run_date],
    )
    return con.execute(
        "select count(*) from delivery.campaign_sends where run_date = ?", [run_date]
    ).fetchone()[0]


def make_campaign(
    campaign_id: str,
    priority: int = 10,
    *,
    trigger: Trigger | None = None,
    audience: Audience | None = None,
    holdout_share: float = 0.0,
    cooldown_days: int = 0,
    variants: Sequence[Variant] = (Variant("control", 1.0, control=True),),
    template: Template | None = None,
    enabled: bool = True,
    targeting: Targeting | None = None,
    channels: Sequence[str] = ("email",),
) -> Campaign:
    return Campaign(
        id=campaign_id,
        description=f"test campaign {campaign_id}",
        trigger=trigger or Trigger(sql="true"),
        audience=audience or Audience(),
        channels=tuple(channels),
        template=template or Template(subject="Hi {{ first_name }}", body="<p>{{ campaign_id }}</p>"),
        variants=tuple(variants),
        holdout_share=holdout_share,
        priority=priority,
        cooldown_days=cooldown_days,
        enabled=enabled,
        targeting=targeting or Targeting(),
    )


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    connection.execute("set timezone = 'UTC'")
    write_suppressions(connection)
    write_responses(connection)
    yield connection
    connection.close()
