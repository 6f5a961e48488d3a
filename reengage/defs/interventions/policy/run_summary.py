"""What one run decided, in counts only: fit for logs and Dagster metadata."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import duckdb
import pandas as pd

from reengage.defs.interventions.campaigns import Campaign
from reengage.defs.interventions.policy.decisions import (
    BASE_TABLE,
    CONSENT_GRANTED,
    CONSENT_WITHDRAWN,
    DECISIONS_WORK_TABLE,
)
from reengage.defs.interventions.policy.persistence import LIST_TABLE
from reengage.defs.interventions.policy.sql import date_literal
from reengage.defs.interventions.predicates import sql_literal
from reengage.tables import as_frame


@dataclass(frozen=True)
class PolicyRun:
    """What one run decided, without any personal data (fit for logs and Dagster metadata)."""

    run_date: date
    campaigns: list[str]
    candidates: int
    list_rows: int
    treatment: int
    holdout: int
    counts: pd.DataFrame  # campaign_id, outcome, reason, n
    notes: list[str] = field(default_factory=list)
    # Customers (candidates or not) nobody may mail because their newest CRM row was refused at ingest.
    unverified_profiles: int = 0
    # Per campaign: the targeting applied, the uplift model ranked by (if any) and the rows explored.
    targeting: dict[str, dict[str, object]] = field(default_factory=dict)


def summarise_run(
    con: duckdb.DuckDBPyConnection, run_date: date, campaigns: Sequence[Campaign], notes: list[str]
) -> PolicyRun:
    """Counts of the decisions just made and of the list just written for `run_date`."""
    counts = as_frame(
        con.execute(f"""
        select campaign_id, outcome, reason, count(*) as n
        from {DECISIONS_WORK_TABLE}
        group by all
        order by campaign_id, reason""")
    )
    arms = dict(
        con.execute(
            f"select arm, count(*) from {LIST_TABLE} where run_date = {date_literal(run_date)} group by 1"
        ).fetchall()
    )
    unverified = con.execute(f"""
        select count(*) from {BASE_TABLE}
        where consent_status is distinct from {sql_literal(CONSENT_GRANTED)}
          and consent_status is distinct from {sql_literal(CONSENT_WITHDRAWN)}""").fetchone()[0]
    targeting = {
        str(campaign): {"mode": str(mode), "uplift_model": model or "none", "explored": int(explored)}
        for campaign, mode, model, explored in con.execute(f"""
            select campaign_id, any_value(targeting), max(uplift_model_version),
                   count(*) filter (where exploration)
            from {DECISIONS_WORK_TABLE}
            where selection_probability > 0 or reason like 'targeting:%'
            group by 1 order by 1""").fetchall()
    }
    if unverified:
        notes.append(
            f"{unverified} customer(s) not mailed as unverified_profile: their newest CRM row was refused "
            "at ingest (marts.fct_user_features.consent_status; int_customer_consent says why)"
        )
    return PolicyRun(
        run_date=run_date,
        campaigns=[c.id for c in campaigns if c.enabled],
        candidates=int(counts["n"].sum()) if len(counts) else 0,
        list_rows=int(sum(arms.values())),
        treatment=int(arms.get("treatment", 0)),
        holdout=int(arms.get("holdout", 0)),
        counts=counts,
        notes=notes,
        unverified_profiles=int(unverified),
        targeting=targeting,
    )
